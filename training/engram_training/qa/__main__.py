"""Build the QA sets from a fetched corpus (and feedback files).

    python -m engram_training.qa build --corpus .data/corpus --out .data/qa   (run in training/) \
        [--feedback FILE.jsonl ...] [--per-kind 8] [--seed 0]

Writes, per split, `contexts.jsonl` and `qa.jsonl`; for validation and test also
`by-repo/<repo>.jsonl` (questions over the whole repository, ready for
`engram eval --repo <corpus>/repos/<repo> --qa ...`); `feedback/*.jsonl` from feedback
files; and `stats.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from ..corpus import RepoRecord, iter_repo_files, load_manifest
from .feedback import read_feedback
from .generate import _WORD as _WORDS
from .generate import KINDS, Generator, build_contexts, verify


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def build_qa(corpus: Path, out: Path, splits: tuple[str, ...] = ("train", "validation", "test"),
             per_kind: int = 8, seed: int = 0, max_contexts: int = 24, feedback: list[Path] | None = None,
             train_range: tuple[int, int] = (4096, 32768), eval_sizes: dict[str, int] | None = None,
             log=None) -> dict:
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    records = [r for r in load_manifest(corpus) if r.split in splits]
    names_by_repo: dict[str, set[str]] = {}
    texts: dict[str, dict[str, str]] = {}
    files_by_repo: dict[str, list[tuple[str, str, str]]] = {}
    for r in records:
        files_by_repo[r.id] = list(iter_repo_files(corpus, r.id))
        texts[r.id] = {p: t for p, _, t in files_by_repo[r.id]}
    from .parse import parse_file
    for r in records:  # decoy names for unanswerable questions come from other repositories
        names: set[str] = set()
        for p, lang, t in files_by_repo[r.id][:200]:
            names.update(d.name for d in parse_file(p, lang, t).defs if len(d.name) >= 6)
        names_by_repo[r.id] = names
    stats: dict = {"splits": {}, "failed_verification": 0}
    for split in splits:
        t0 = time.time()
        ctx_rows: list[dict] = []
        qa_rows: list[dict] = []
        kinds: Counter = Counter()
        sizes: Counter = Counter()
        split_recs = [r for r in records if r.split == split]
        for r in split_recs:
            rng = random.Random(f"{seed}:{r.id}")
            pool = sorted(n for o in split_recs if o.id != r.id for n in names_by_repo[o.id])
            words = {w for t in texts[r.id].values() for w in _WORDS.findall(t)}
            gen = Generator(seed=seed, per_kind=per_kind, decoys=rng.sample(pool, min(400, len(pool))),
                            repo_words=words)
            contexts = build_contexts(r.id, split, files_by_repo[r.id], seed=seed, train_range=train_range,
                                      eval_sizes=eval_sizes, max_contexts=max_contexts)
            by_repo: list[dict] = []
            for ctx in contexts:
                ctx_texts = {f.path: texts[r.id][f.path] for f in ctx.files}
                qs = []
                for q in gen.questions(ctx):
                    if verify(q, ctx_texts):
                        qs.append(q)
                    else:
                        stats["failed_verification"] += 1
                q_tokens = {"tokens": ctx.tokens, "size_class": ctx.size_class}
                for q in qs:
                    q.update(q_tokens)
                    kinds[q["kind"]] += 1
                qa_rows.extend(qs)
                ctx_rows.append(ctx.to_json())
                sizes[ctx.size_class] += 1
                if ctx.size_class == "repo":
                    by_repo.extend(qs)
            if by_repo:
                _write_jsonl(out / split / "by-repo" / f"{r.id}.jsonl", by_repo)
        _write_jsonl(out / split / "contexts.jsonl", ctx_rows)
        _write_jsonl(out / split / "qa.jsonl", qa_rows)
        tok = [c["tokens"] for c in ctx_rows]
        stats["splits"][split] = {"repos": len(split_recs), "contexts": len(ctx_rows), "questions": len(qa_rows),
                                  "kinds": {k: kinds[k] for k in KINDS}, "context_sizes": dict(sizes),
                                  "context_tokens_min": min(tok, default=0), "context_tokens_max": max(tok, default=0)}
        say(f"{split}: {len(split_recs)} repos, {len(ctx_rows)} contexts, {len(qa_rows)} questions "
            f"({time.time() - t0:.0f}s)")
    if feedback:
        fb = read_feedback(feedback)
        for name in ("qa", "gate", "kto", "dpo"):
            _write_jsonl(out / "feedback" / f"{name}.jsonl", getattr(fb, name))
        stats["feedback"] = {"lines": fb.lines, "qa": len(fb.qa), "gate": len(fb.gate), "kto": len(fb.kto),
                             "dpo": len(fb.dpo), "skipped": dict(fb.skipped)}
        say(f"feedback: {fb.lines} lines, {fb.skipped_total} malformed skipped {dict(fb.skipped)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.qa")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate contexts and verified QA from the corpus")
    b.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    b.add_argument("--out", type=Path, default=Path(".data/qa"))
    b.add_argument("--splits", nargs="+", default=["train", "validation", "test"])
    b.add_argument("--per-kind", type=int, default=8, help="questions per kind per context")
    b.add_argument("--max-contexts", type=int, default=24, help="training contexts per repository")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--feedback", type=Path, nargs="*", default=[], help="feedback JSONL files")
    args = ap.parse_args(argv)
    for f in args.feedback:
        if not f.exists():
            print(f"no such feedback file: {f}", file=sys.stderr)
            return 1
    stats = build_qa(args.corpus, args.out, tuple(args.splits), args.per_kind, args.seed, args.max_contexts,
                     args.feedback)
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
