"""End-to-end evaluation through the real engine (issue 6, item 7).

For each held-out QA context of the chosen sizes the context's files become a real folder
(`<out>/<context>/repo`, hard links into the corpus), the engine indexes it
(`engram index`) and answers the chosen questions (`engram eval --json`) with the given
reader, once per mode: `gated` (the recall/gate loop) and `memagent` (every raw chunk in
order). The report gives accuracy by question kind, citation precision and seconds per
question, per size and mode, as `<out>/report.json` and a markdown table `<out>/report.md`.

    python -m engram_training eval --model ../models/reader-0.2.0 --sizes 8k,32k --per-size 12
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from .qa.generate import KINDS
from .qa.phrasing import HELDOUT, HELDOUT2, TEMPLATES, reword
from .runs import load_jsonl

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class EvalSettings:
    sizes: tuple[str, ...] = ("8k", "32k", "128k")
    per_size: int = 24
    modes: tuple[str, ...] = ("gated", "memagent")
    seed: int = 0
    split: str = "test"
    gate: str | None = None  # the engine's installed gate; "none" ranks by recall alone; or a gate folder
    compressor: str | None = None  # the engine's default (the installed engram-compressor); structural; or a model's name or folder
    phrasing: str = "template"  # "natural" / "heldout": the questions reworded in plain words (qa/phrasing.py)


def engine_path() -> Path:
    return REPO_ROOT / "bin" / "engram.js"


def engine_missing() -> str | None:
    """Why the engine CLI cannot run here, or None when it can."""
    if not engine_path().exists():
        return f"{engine_path()} is missing"
    if not (REPO_ROOT / "dist" / "cli.js").exists():
        return f"the engine is not built ({REPO_ROOT / 'dist' / 'cli.js'} is missing): run `npm run build` in {REPO_ROOT}"
    if shutil.which("node") is None:
        return "node is not on PATH"
    return None


def _engine(args: list[str], log_file: Path) -> str:
    """Runs `node bin/engram.js ARGS`; stdout back, stderr to log_file; a failure raises with its message."""
    with open(log_file, "a", encoding="utf-8") as err:
        err.write(f"$ engram {' '.join(args)}\n")
        err.flush()
        r = subprocess.run(["node", str(engine_path()), *args], stdout=subprocess.PIPE, stderr=err, text=True)
    if r.returncode != 0:
        tail = log_file.read_text(encoding="utf-8").splitlines()[-8:]
        raise RuntimeError(f"engram {args[0]} failed (exit {r.returncode}):\n" + "\n".join(tail))
    return r.stdout


def materialize(ctx: dict, corpus: Path, dest: Path) -> Path:
    """The context's files, and only those, as a folder (hard links; copies across filesystems)."""
    if dest.exists():
        shutil.rmtree(dest)
    src_root = corpus / "repos" / ctx["repo"]
    for rel in ctx["files"]:
        src, dst = src_root / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)
    return dest


def pick_questions(questions: list[dict], n: int, seed: int) -> list[dict]:
    """n questions balanced by kind (round robin over kinds), spread over the contexts."""
    rng = random.Random(seed)
    queues: dict[str, list[dict]] = {}
    for kind in KINDS:
        by_ctx: dict[str, list[dict]] = {}
        for q in questions:
            if q["kind"] == kind:
                by_ctx.setdefault(q["context"], []).append(q)
        groups = [by_ctx[c] for c in sorted(by_ctx)]
        for g in groups:
            rng.shuffle(g)
        # interleave the contexts so each kind covers as many of them as it can
        queues[kind] = [g[i] for i in range(max((len(g) for g in groups), default=0)) for g in groups if i < len(g)]
    picked: list[dict] = []
    while len(picked) < n and any(queues.values()):
        for kind in KINDS:
            if queues[kind] and len(picked) < n:
                picked.append(queues[kind].pop(0))
    return picked


def _overlaps(a: dict, b: dict) -> bool:
    return a.get("path") == b.get("path") and a.get("startLine", 0) <= b.get("endLine", -1) \
        and a.get("endLine", -1) >= b.get("startLine", 0)


def _correct(pq: dict) -> bool:
    """The engine's own verdict: `correct` where it reports one, else containment."""
    for key in ("correct", "contains"):
        if isinstance(pq.get(key), bool):
            return bool(pq[key])
    return False


def _aggregate(rows: list[dict], reports: list[dict], index_s: float) -> dict:
    n = len(rows)
    by_kind = {}
    for kind in KINDS:
        ks = [r for r in rows if r["kind"] == kind]
        if ks:
            by_kind[kind] = {"n": len(ks), "accuracy": round(sum(r["correct"] for r in ks) / len(ks), 4)}
    with_ev = [r for r in rows if r["evidence"]]
    cited = sum(len(r["citations"]) for r in with_ev)
    cited_ok = sum(1 for r in with_ev for c in r["citations"] if any(_overlaps(c, e) for e in r["evidence"]))
    out = {"questions": n, "contexts": len(reports),
           "accuracy": round(sum(r["correct"] for r in rows) / n, 4) if n else 0.0,
           "exact": round(sum(r["exact"] for r in rows) / n, 4) if n else 0.0,
           "byKind": by_kind,
           "citationPrecision": round(cited_ok / cited, 4) if cited else None, "citations": cited,
           "secondsPerQuestion": round(sum(r["ms"] for r in rows) / n / 1000, 3) if n else 0.0,
           "indexSeconds": round(index_s, 1)}
    phrasings = sorted({r["phrasing"] for r in rows if "phrasing" in r})
    if phrasings:  # --phrasing natural: accuracy by wording
        out["byPhrasing"] = {p: {"n": len(ps), "accuracy": round(sum(r["correct"] for r in ps) / len(ps), 4)}
                             for p in phrasings for ps in [[r for r in rows if r.get("phrasing") == p]]}
    hits = [r["evidenceHit"] for r in rows if isinstance(r.get("evidenceHit"), bool)]
    if hits:  # engines that report it: a citation, confident or not, overlaps the evidence
        out["evidenceHitRate"] = round(sum(hits) / len(hits), 4)
    conf = [r["confidence"] for r in rows if isinstance(r.get("confidence"), str)]
    if conf:
        out["confidentRate"] = round(sum(c == "answer" for c in conf) / len(conf), 4)
        # What costs a user's trust: an answer stated as sure that is wrong.
        out["confidentWrongRate"] = round(
            sum(r.get("confidence") == "answer" and not r["correct"] for r in rows) / len(conf), 4)
    # Other report fields: averaged over contexts, weighted by their questions.
    for key in ("citationRecall", "gateRecallAtK", "evidenceKept", "blockWordsKept", "blocksReadPerQuestion", "tokensReadPerQuestion"):
        vals = [(rep[key], rep.get("questions", 0)) for rep in reports if isinstance(rep.get(key), (int, float))]
        w = sum(q for _, q in vals)
        if vals and w:
            out[key] = round(sum(v * q for v, q in vals) / w, 4)
    rss = [rep["peakRssMb"] for rep in reports if isinstance(rep.get("peakRssMb"), (int, float))]
    if rss:
        out["peakRssMb"] = max(rss)
    return out


def run_eval(corpus: Path, qa: Path, out: Path, model: Path, settings: EvalSettings,
             log: Callable[[str], None] | None = None) -> dict:
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    why = engine_missing()
    if why:
        raise SystemExit(why)
    model = model.resolve()
    if not (model / "config.json").exists():
        raise SystemExit(f"no model at {model} (expected config.json and onnx/ there)")
    contexts = {c["id"]: c for c in load_jsonl(qa / settings.split / "contexts.jsonl")}
    questions = load_jsonl(qa / settings.split / "qa.jsonl")
    out.mkdir(parents=True, exist_ok=True)
    compressor = ["--compressor", settings.compressor] if settings.compressor else []
    results: list[dict] = []
    per_question: list[dict] = []
    for size in settings.sizes:
        pool = [q for q in questions if contexts.get(q["context"], {}).get("size_class") == size]
        picked = pick_questions(pool, settings.per_size, settings.seed)
        if settings.phrasing != "template":
            rng = random.Random(settings.seed)
            wordings = {"heldout": HELDOUT, "heldout2": HELDOUT2}.get(settings.phrasing, TEMPLATES)
            picked = [r for r in (reword(q, rng, wordings) for q in picked) if r is not None]
        if not picked:
            say(f"eval {size}: no {settings.split} questions of this size, skipped")
            continue
        by_ctx: dict[str, list[dict]] = {}
        for q in picked:
            by_ctx.setdefault(q["context"], []).append(q)
        rows: dict[str, list[dict]] = {m: [] for m in settings.modes}
        reports: dict[str, list[dict]] = {m: [] for m in settings.modes}
        index_s = 0.0
        for cid, qs in sorted(by_ctx.items()):
            ctx = contexts[cid]
            base = out / cid
            repo = materialize(ctx, corpus, base / "repo")
            store = base / "store"
            qa_file = base / "qa.jsonl"
            qa_file.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in qs), encoding="utf-8")
            log_file = base / "engine.log"
            t0 = time.time()
            _engine(["index", "--repo", str(repo), "--store", str(store)] + compressor, log_file)
            index_s += time.time() - t0
            say(f"eval {size} {cid} ({ctx['repo']}, {ctx['tokens']} tokens, {len(qs)} questions): "
                f"indexed in {time.time() - t0:.1f}s")
            by_id = {q["id"]: q for q in qs}
            for mode in settings.modes:
                t0 = time.time()
                rep = json.loads(_engine(["eval", "--json", "--qa", str(qa_file), "--repo", str(repo), "--store", str(store),
                                          "--mode", mode, "--model", str(model)]
                                         + (["--gate", settings.gate] if settings.gate else []) + compressor, log_file))
                (base / f"{mode}.json").write_text(json.dumps(rep, indent=1) + "\n")
                reports[mode].append(rep)
                for pq in rep.get("perQuestion", []):
                    q = by_id.get(pq.get("id"), {})
                    row = {"size": size, "mode": mode, "context": cid, "id": pq.get("id"), "kind": q.get("kind", "?"),
                           "question": q.get("question"), "expected": pq.get("expected", q.get("answer")),
                           "answer": pq.get("answer", ""), "correct": _correct(pq), "exact": bool(pq.get("exact")),
                           "citations": pq.get("citations") or [], "evidence": q.get("evidence") or [],
                           "ms": pq.get("ms", 0)}
                    if "phrasing" in q:
                        row["phrasing"] = q["phrasing"]
                    for key in ("confidence", "evidenceHit", "evidenceKept", "error"):
                        if key in pq:
                            row[key] = pq[key]
                    rows[mode].append(row)
                got = rows[mode][-len(qs):]
                say(f"  {mode}: {sum(r['correct'] for r in got)}/{len(qs)} correct, {time.time() - t0:.1f}s")
        for mode in settings.modes:
            results.append({"size": size, "mode": mode, **_aggregate(rows[mode], reports[mode], index_s)})
            per_question.extend(rows[mode])
    report = {"model": str(model), "settings": asdict(settings), "date": time.strftime("%Y-%m-%d"),
              "summary": results, "perQuestion": per_question}
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    md = markdown(report)
    (out / "report.md").write_text(md)
    print(md)
    return report


def _cell(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _phrasing_table(report: dict) -> list[str]:
    """Accuracy by wording (`--phrasing natural`), all sizes and modes together; `ctl-` wordings are controls."""
    totals: dict[str, list[int]] = {}
    for r in report["perQuestion"]:
        if "phrasing" in r:
            t = totals.setdefault(f"{r['kind']}/{r['phrasing']}", [0, 0, 0])
            t[0] += int(r["correct"])
            t[1] += 1
            t[2] += int(r.get("confidence") == "answer" and not r["correct"])
    if not totals:
        return []
    phrasing = report.get("settings", {}).get("phrasing", "natural")
    rows = ["", f"Questions reworded in plain words (`--phrasing {phrasing}`; `ctl-` wordings are controls the engine is not built to read):",
            "", "| kind/wording | questions | accuracy | confident and wrong |", "|---|---|---|---|"]
    rows += [f"| {k} | {n} | {c / n:.2f} | {w / n:.2f} |" for k, (c, n, w) in sorted(totals.items())]
    return rows


def markdown(report: dict) -> str:
    """The report as a markdown table (one row per size and mode), ready for a model card."""
    s = report["settings"]
    has_hit = any("evidenceHitRate" in r for r in report["summary"])
    has_conf = any("confidentRate" in r for r in report["summary"])
    has_kept = any("evidenceKept" in r for r in report["summary"])
    head = ["size", "mode", "questions", "accuracy", *KINDS, "citation precision"]
    head += ["evidence hit rate"] if has_hit else []
    head += ["confident", "confident and wrong"] if has_conf else []
    head += ["gate recall@8", "evidence kept in text form", "all words kept"] if has_kept else []
    head += ["s / question"]
    compressor = s.get("compressor") or "the engine's default"
    lines = [f"Engine end-to-end on held-out {s['split']} repositories: model `{Path(report['model']).name}`, "
             f"{s['per_size']} questions per size (balanced by kind), gate {s.get('gate') or 'installed'}, "
             f"compressor {compressor}, {report['date']}.",
             "Accuracy: the engine's verdict (a confident answer containing the expected one); kind cells: "
             "accuracy (questions). Citation precision: cited spans overlapping the evidence (answerable questions);",
             "evidence hit rate: answerable questions with a citation, confident or not, on the evidence; "
             "confident: share of questions answered confidently; confident and wrong: share answered confidently and wrongly. Evidence kept in text form: share of the evidence lines' "
             "words that the compressed text of their blocks holds (what a reasoner reading that form sees); all words kept: "
             "the same over every line of those blocks.",
             "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    body = []
    for r in report["summary"]:
        kinds = [f"{r['byKind'][k]['accuracy']:.2f} ({r['byKind'][k]['n']})" if k in r["byKind"] else "–" for k in KINDS]
        cells = [r["size"], r["mode"], str(r["questions"]), _cell(r["accuracy"]), *kinds, _cell(r["citationPrecision"])]
        cells += [_cell(r.get("evidenceHitRate"))] if has_hit else []
        cells += [_cell(r.get("confidentRate")), _cell(r.get("confidentWrongRate"))] if has_conf else []
        cells += [_cell(r.get("gateRecallAtK")), _cell(r.get("evidenceKept")), _cell(r.get("blockWordsKept"))] if has_kept else []
        cells += [_cell(r["secondsPerQuestion"])]
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + body + _phrasing_table(report)) + "\n"
