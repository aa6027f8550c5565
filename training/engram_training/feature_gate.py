"""The feature gate: a small MLP over features of (question, working memory, candidate block).

The transformer gate (`gate.py`) ranks below BM25 when trained on 2 CPU cores. This gate
reads what the transformer would have to learn, computed exactly: the candidate's recall
rank, whether the block says or defines the code names the question (or the memory) asks
about, whether its path names them, how many of the question's words it holds, and
whether it is documentation. It trains in seconds, ranks the engine's candidates above
BM25 on held-out repositories, and gives a calibrated P(relevant) for the threshold.

`features` is mirrored word for word by `gateFeatures` in src/core/gate/features.ts;
`python -m engram_training.feature_gate fixture` writes the parity cases the TypeScript
tests check.

    python -m engram_training.feature_gate data   --corpus .data/corpus --qa .data/qa --out .data/feature-gate
    python -m engram_training.feature_gate train  --data .data/feature-gate
    python -m engram_training.feature_gate eval   --data .data/feature-gate
    python -m engram_training.feature_gate export --data .data/feature-gate --out ../models/engram-gate-0.1.0
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .blocks import BM25, Block, chunk_file, questions_by_context
from .names import STOP_WORDS, WORD, defines_any, mentions_any, names_in

FEATURES = ("recall_rank", "has_names", "names_mentioned", "defines_name", "name_in_path", "has_memory_names",
            "memory_names_mentioned", "memory_defines", "term_coverage", "prose", "block_size")
VERSION = "0.1.0"
CANDIDATES = 64
KS = (4, 8, 16)
MEMORY_NAMES = 32
# The sub-words of an identifier, as PART in src/core/compress/identifiers.ts (ASCII letters).
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[A-Za-z]+")
_PROSE = re.compile(r"\.(md|markdown|mdx|rst|adoc|txt|text)$", re.I)
_CHANGELOG = re.compile(r"^(changelog|changes|history|news|releases?)([._-]|$)", re.I)


def _words(text: str) -> set[str]:
    """Lower-cased words of `text` and the sub-words of its identifiers."""
    out: set[str] = set()
    for w in WORD.findall(text):
        out.add(w.lower())
        out.update(p.lower() for p in _PART.findall(w))
    return out


def _question_words(question: str) -> set[str]:
    return {w.lower() for w in WORD.findall(question) if len(w) >= 2 and w.lower() not in STOP_WORDS}


def is_prose(path: str) -> bool:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return bool(_PROSE.search(name) or _CHANGELOG.match(name))


def features(question: str, memory: str, path: str, text: str, rank: int) -> list[float]:
    """The gate's inputs for one candidate block (`rank`: 0-based place in recall's order)."""
    names = names_in(question)
    mem_names = [n for n in names_in(memory) if n not in names][:MEMORY_NAMES] if memory else []
    lines = text.split("\n")
    qw = _question_words(question)

    def mentioned(ns: Sequence[str]) -> float:
        return sum(1 for n in ns if mentions_any(text, [n])) / len(ns) if ns else 0.0

    def defined(ns: Sequence[str]) -> float:
        return 1.0 if ns and any(defines_any(line, ns, i, lines) for i, line in enumerate(lines)) else 0.0

    return [
        1.0 / (1 + rank),
        1.0 if names else 0.0,
        mentioned(names),
        defined(names),
        1.0 if names and mentions_any(path, names) else 0.0,
        1.0 if mem_names else 0.0,
        mentioned(mem_names),
        defined(mem_names),
        len(qw & _words(text)) / len(qw) if qw else 0.0,
        1.0 if is_prose(path) else 0.0,
        math.log1p(len(text)) / 8,
    ]


# ---------------------------------------------------------------- data


def _first_hop_memory(repo_dir: Path, ev: dict) -> str:
    """A working memory holding the first hop's evidence, as the extractive reasoner writes it."""
    lines = (repo_dir / ev["path"]).read_text("utf-8").split("\n")
    return "\n".join(f"{ev['path']}:{ev['startLine'] + i}: {line.strip()}"
                     for i, line in enumerate(lines[ev["startLine"] - 1:ev["endLine"]]) if line.strip())


def build_data(corpus: Path, qa: Path, out: Path, seed: int = 0, max_questions: dict[str, int] | None = None,
               log=None) -> dict:
    """Per split: every question's candidates (BM25's top 64 of its context, as the engine
    recalls), their features and labels; call chains once more with the first hop in memory."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    limits = {"train": 3000, "validation": 600, "test": 600} | (max_questions or {})
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    cache: dict[tuple[str, str], list[Block]] = {}
    for split, limit in limits.items():
        t0 = time.time()
        rng = random.Random(seed)
        contexts, by_ctx = questions_by_context(qa, split, rng, limit)
        x: list[list[float]] = []
        y: list[int] = []
        groups: list[int] = []
        bm25: list[float] = []
        meta: list[dict] = []
        for cid, qs in by_ctx.items():
            ctx = contexts[cid]
            repo_dir = corpus / "repos" / ctx["repo"]
            blocks: list[Block] = []
            for path in ctx["files"]:
                key = (ctx["repo"], path)
                if key not in cache:
                    cache[key] = chunk_file(path, (repo_dir / path).read_text("utf-8"))
                blocks.extend(cache[key])
            if not blocks:
                continue
            bm = BM25([b.text for b in blocks])
            for q in qs:
                def evidence(evs: list[dict]) -> set[int]:
                    return {i for i, b in enumerate(blocks) if any(b.overlaps(e) for e in evs)}
                variants = [("", evidence(q["evidence"]))]
                if q["kind"] == "call_chain" and len(q["evidence"]) > 1:
                    variants.append((_first_hop_memory(repo_dir, q["evidence"][0]), evidence(q["evidence"][1:])))
                for memory, pos in variants:
                    scores = bm.scores(f"{q['question']}\n{memory}" if memory else q["question"])
                    order = sorted(range(len(blocks)), key=lambda i: -scores[i])[:CANDIDATES]
                    g = len(meta)
                    meta.append({"id": q["id"], "kind": q["kind"], "size_class": q.get("size_class", ""),
                                 "positives": len(pos), "memory": bool(memory)})
                    for rank, i in enumerate(order):
                        x.append(features(q["question"], memory, blocks[i].path, blocks[i].text, rank))
                        y.append(1 if i in pos else 0)
                        groups.append(g)
                        bm25.append(scores[i])
        np.savez_compressed(out / f"{split}.npz", x=np.array(x, np.float32).reshape(-1, len(FEATURES)),
                            labels=np.array(y, np.int8), groups=np.array(groups, np.int32),
                            bm25=np.array(bm25, np.float32))
        (out / f"{split}.meta.json").write_text(json.dumps(meta) + "\n")
        stats[split] = {"questions": len(meta), "candidates": len(y), "positives": int(sum(y))}
        say(f"feature-gate data {split}: {stats[split]} ({time.time() - t0:.0f}s)")
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


class _Split:
    def __init__(self, data: Path, split: str) -> None:
        z = np.load(data / f"{split}.npz")
        self.x, self.labels, self.groups, self.bm25 = z["x"], z["labels"], z["groups"], z["bm25"]
        self.meta: list[dict] = json.loads((data / f"{split}.meta.json").read_text())


# ---------------------------------------------------------------- model


class FeatureGate(nn.Module):
    """features [batch, F] -> logits [batch]."""

    def __init__(self, n_features: int = len(FEATURES), hidden: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def train(data: Path, run: Path, hidden: int = 32, epochs: int = 40, lr: float = 3e-3, seed: int = 0,
          log=None) -> dict:
    """Binary cross-entropy on every train candidate; seconds on a CPU, so no checkpoints to resume."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    torch.manual_seed(seed)
    tr = _Split(data, "train")
    x, y = torch.tensor(tr.x), torch.tensor(tr.labels, dtype=torch.float32)
    model = FeatureGate(x.shape[1], hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    t0 = time.time()
    loss = torch.tensor(0.0)
    for epoch in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 2048):
            idx = perm[i:i + 2048]
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if (epoch + 1) % 10 == 0:
            say(f"feature-gate epoch {epoch + 1}/{epochs} loss {loss.item():.4f}")
    run.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), run / "model.pt")
    info = {"features": list(FEATURES), "hidden": hidden, "epochs": epochs, "lr": lr, "seed": seed,
            "train_candidates": len(x), "train_positives": int(y.sum()), "seconds": round(time.time() - t0, 1),
            "final_loss": round(loss.item(), 4), "parameters": sum(p.numel() for p in model.parameters())}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def load_model(run: Path) -> FeatureGate:
    info = json.loads((run / "train.json").read_text())
    model = FeatureGate(len(info["features"]), info["hidden"])
    model.load_state_dict(torch.load(run / "model.pt", map_location="cpu"))
    return model.eval()


# ---------------------------------------------------------------- evaluation


def _recall(scores: np.ndarray, s: _Split, memory: bool) -> dict:
    """Mean recall@k of the evidence blocks over answerable questions (denominator: every evidence
    block of the context, so candidates recall missed count), overall and at 8 by kind."""
    res: dict[int, list[float]] = {k: [] for k in KS}
    by_kind: dict[str, list[float]] = {}
    bounds = np.r_[0, np.nonzero(np.diff(s.groups))[0] + 1, len(s.groups)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        m = s.meta[s.groups[a]]
        if m["positives"] == 0 or m["memory"] != memory:
            continue
        ranked = s.labels[a:b][np.argsort(-scores[a:b], kind="stable")]
        for k in KS:
            res[k].append(float(ranked[:k].sum()) / m["positives"])
        by_kind.setdefault(m["kind"], []).append(res[8][-1])
    out: dict = {f"recall@{k}": round(float(np.mean(v)), 4) if v else None for k, v in res.items()}
    out["questions"] = len(res[8])
    if not memory:
        out["recall@8_by_kind"] = {k: round(float(np.mean(v)), 3) for k, v in sorted(by_kind.items())}
    return out


def _threshold(scores: np.ndarray, s: _Split, keep: float = 0.95) -> float:
    """The logit above which lie `keep` of the evidence blocks the gate ranks in its top 8: the
    loop reads a block when it clears this (or is the first), so a low bar costs a block read,
    a high one a missed answer."""
    hits: list[float] = []
    bounds = np.r_[0, np.nonzero(np.diff(s.groups))[0] + 1, len(s.groups)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        top = np.argsort(-scores[a:b], kind="stable")[:8]
        hits.extend(float(scores[a + i]) for i in top if s.labels[a + i])
    return float(np.quantile(hits, 1 - keep)) if hits else 0.0


def evaluate(data: Path, run: Path) -> dict:
    model = load_model(run)
    result: dict = {}
    scored: dict[str, np.ndarray] = {}
    splits = {name: _Split(data, name) for name in ("validation", "test")}
    for name, s in splits.items():
        with torch.no_grad():
            scored[name] = model(torch.tensor(s.x)).numpy()
        result[name] = {"gate": _recall(scored[name], s, False), "bm25": _recall(s.bm25, s, False),
                        "gate_second_hop": _recall(scored[name], s, True), "bm25_second_hop": _recall(s.bm25, s, True),
                        "candidates": len(s.labels)}
    t = _threshold(scored["validation"], splits["validation"])
    s = splits["test"]
    pred = scored["test"] >= t
    tp = float((pred & (s.labels == 1)).sum())
    result["threshold"] = {"logit": round(t, 4), "probability": round(1 / (1 + math.exp(-t)), 4),
                           "test_precision": round(tp / max(1.0, float(pred.sum())), 4),
                           "test_recall": round(tp / max(1.0, float(s.labels.sum())), 4),
                           "test_positive_rate": round(float(s.labels.mean()), 4)}
    (run / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


# ---------------------------------------------------------------- export


def export(run: Path, out: Path, manifest: Path, version: str = VERSION) -> dict:
    """ONNX (`features` [batch, F] -> `logits` [batch]) checked against PyTorch, config, card, manifest entry."""
    import onnxruntime as ort

    from .publish import update_manifest
    model = load_model(run)
    info = json.loads((run / "train.json").read_text())
    ev = json.loads((run / "eval.json").read_text())
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    onnx_file = out / "onnx" / "model.onnx"
    torch.onnx.export(model, (torch.zeros(2, len(FEATURES)),), str(onnx_file), input_names=["features"],
                      output_names=["logits"], opset_version=17, dynamo=False,
                      dynamic_axes={"features": {0: "batch_size"}, "logits": {0: "batch_size"}})
    probe = torch.rand(37, len(FEATURES), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(probe).numpy()
    got = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"]).run(["logits"], {"features": probe.numpy()})[0]
    parity = float(np.abs(got - ref).max())
    if parity > 1e-4:
        raise RuntimeError(f"ONNX output differs from PyTorch by {parity}")
    config = {"model_type": "engram-feature-gate", "features": list(FEATURES), "hidden": info["hidden"],
              "candidates": CANDIDATES, "threshold_logit": ev["threshold"]["logit"],
              "inputs": "features [batch, len(features)] float32, computed by gateFeatures (src/core/gate/features.ts)",
              "output": "logits [batch]: sigmoid = P(relevant)"}
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "README.md").write_text(_card(version, info, ev, parity))
    t = ev["test"]
    entry = {"name": "engram-gate", "role": "gate", "version": version, "path": out.name,
             "eval": {"test": {k: t[k] for k in ("gate", "bm25", "gate_second_hop", "bm25_second_hop")},
                      "threshold": ev["threshold"], "onnxParity": {"fp32": parity}, "parameters": info["parameters"]}}
    update_manifest(manifest, entry, manifest.parent)
    return {"out": str(out), "parity": parity, "parameters": info["parameters"]}


def _card(version: str, info: dict, ev: dict, parity: float) -> str:
    t, th = ev["test"], ev["threshold"]

    def row(name: str, r: dict) -> str:
        return f"| {name} | {r['recall@4']} | {r['recall@8']} | {r['recall@16']} |"
    kinds = ", ".join(f"{k} {v} (BM25 {t['bm25']['recall@8_by_kind'].get(k)})" for k, v in t["gate"]["recall@8_by_kind"].items())
    return f"""# engram-gate {version}

The relevance gate of Engram: P(relevant) for (question, working memory, candidate block), over the
candidates the engine's recall returns. A {info['hidden']}-unit MLP over {len(info['features'])} features
({info['parameters']} parameters), trained by `python -m engram_training.feature_gate` (training/README.md).

## Inputs
`features` [batch, {len(info['features'])}] float32, computed by `gateFeatures` in `src/core/gate/features.ts`
(mirrored by `features` in `training/engram_training/feature_gate.py`; parity cases in
`test/fixtures/gate-features.json`): {', '.join(f'`{f}`' for f in info['features'])}.
The candidate's recall rank, whether the block says or defines the code names the question (and the
working memory) asks about, whether its path names them, the share of the question's words it holds,
and whether it is documentation. Output `logits` [batch].

## Data and training
Held-out by repository (training/README.md, section 1). Candidates per question: BM25's top {CANDIDATES} of
its context; label: the block holds QA evidence. Call-chain questions appear once more with the first
hop in the working memory (the second hop's blocks are then the positives).
{info['train_candidates']} train candidates ({info['train_positives']} positive); {info['epochs']} epochs of Adam
(lr {info['lr']}, batch 2048, seed {info['seed']}) in {info['seconds']} s on 2 CPU cores; final loss {info['final_loss']}.
ONNX (fp32; the weights are a few KB, so there is no int8 file) vs PyTorch: max |Δlogit| {parity:.1e}.

## Evaluation (held-out test repositories)
Mean recall of the evidence blocks (every evidence block of the context counts, so recall's misses
count), {t['gate']['questions']} answerable questions, empty working memory:

| ranker | recall@4 | recall@8 | recall@16 |
|---|---|---|---|
{row('gate', t['gate'])}
{row('BM25 (the candidates order)', t['bm25'])}

Second hop of call chains ({t['gate_second_hop']['questions']} questions, first hop in memory):

| ranker | recall@4 | recall@8 | recall@16 |
|---|---|---|---|
{row('gate', t['gate_second_hop'])}
{row('BM25 of question + memory', t['bm25_second_hop'])}

Recall@8 by kind: {kinds}.

Threshold: logit {th['logit']} (p={th['probability']}), which keeps 95% of the evidence blocks the gate ranks
in its top 8 on validation. On test candidates: precision {th['test_precision']}, recall {th['test_recall']}
(positives are {th['test_positive_rate']} of candidates).

## Limits
It ranks what recall found: evidence recall missed stays missed. Describe questions ("which function
does ...") rest on the question's words alone. Non-ASCII identifiers split into sub-words slightly
differently in Python and TypeScript.
"""


# ---------------------------------------------------------------- parity fixture

_FIXTURE = [
    ("What is the value of the constant `DOWNLOAD`?", "",
     "src/internal/ajax/ajax.ts", "const UPLOAD = 'upload';\nconst DOWNLOAD = 'download';\nexport function ajax() {}", 0),
    ("What is the value of the constant `DOWNLOAD`?", "", "CHANGELOG.md", "* fix DOWNLOAD progress events", 3),
    ("Where is the function `parseHTTPResponse2` defined?", "src/a.ts:3: return retryDelay(parseHTTPResponse2(x))",
     "src/http/parse.ts", "export function parseHTTPResponse2(res) {\n  return retryDelay(res.body);\n}", 7),
    ("Which function does the following: \"Tests to see if the object is thennable.\"? Give its name.", "",
     "src/util/isPromise.ts", "/** Tests to see if the object is \"thennable\". */\nexport function isPromise(value) {\n  return typeof value?.then === 'function';\n}", 1),
    ("The function `maybe_schedule` calls exactly one function defined in another file. Which is it?",
     "lib/sched.py:10: execute_schedule(self.scheduler)\nlib/sched.py:11: self._RETRY_DELAY = 3",
     "lib/execute.py", "def execute_schedule(scheduler, delay=0):\n    scheduler.run(delay)\n", 12),
    ("", "", "docs/notes.txt", "", 63),
    # A method head spread over lines defines its name; a call spread the same way does not.
    ("Where is the method `resolveWorkspace` defined?", "", "src/workspace/service.ts",
     "export class WorkspaceService {\n  async resolveWorkspace(\n    uri: URI,\n    token: CancellationToken,\n"
     "  ): Promise<Workspace> {\n    return this.load(uri, token);\n  }\n}", 2),
    ("Where is the method `resolveWorkspace` defined?", "", "src/workspace/client.ts",
     "export function open(uri) {\n  resolveWorkspace(\n    uri,\n    token,\n  );\n}", 5),
    # A stop word alone in backticks is a name (rxjs's `not`); a keyword never is.
    ("Where is the function `not` defined? Not `return`.", "via partition src/p.ts:57-63 calls `filter` `not`",
     "src/internal/util/not.ts", "export function not<T>(pred, thisArg) {\n  return (v, i) => !pred.call(thisArg, v, i);\n}", 0),
]


def fixture() -> dict:
    return {"features": list(FEATURES),
            "cases": [{"question": q, "memory": m, "path": p, "text": t, "rank": r, "features": features(q, m, p, t, r)}
                      for q, m, p, t, r in _FIXTURE]}


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.feature_gate")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="candidates, features and labels per split")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--out", type=Path, default=Path(".data/feature-gate"))
    d.add_argument("--train-questions", type=int, default=3000)
    d.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("train", help="fit the MLP (seconds)")
    t.add_argument("--data", type=Path, default=Path(".data/feature-gate"))
    t.add_argument("--run", type=Path, default=None, help="default: DATA/run")
    t.add_argument("--hidden", type=int, default=32)
    t.add_argument("--epochs", type=int, default=40)
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval", help="recall@k vs BM25 on held-out repositories, and the threshold")
    e.add_argument("--data", type=Path, default=Path(".data/feature-gate"))
    e.add_argument("--run", type=Path, default=None)
    x = sub.add_parser("export", help="ONNX, config, model card, manifest entry")
    x.add_argument("--data", type=Path, default=Path(".data/feature-gate"))
    x.add_argument("--run", type=Path, default=None)
    x.add_argument("--out", type=Path, default=None, help="default: ../models/engram-gate-VERSION")
    x.add_argument("--version", default=VERSION)
    x.add_argument("--manifest", type=Path, default=Path("../models/manifest.json"))
    f = sub.add_parser("fixture", help="the parity cases the TypeScript tests check")
    f.add_argument("--out", type=Path, default=Path("../test/fixtures/gate-features.json"))
    a = ap.parse_args(argv)
    run = getattr(a, "run", None) or (getattr(a, "data", Path(".")) / "run")
    if a.cmd == "data":
        res = build_data(a.corpus, a.qa, a.out, a.seed, {"train": a.train_questions})
    elif a.cmd == "train":
        res = train(a.data, run, a.hidden, a.epochs, seed=a.seed)
    elif a.cmd == "eval":
        res = evaluate(a.data, run)
    elif a.cmd == "export":
        res = export(run, a.out or a.manifest.parent / f"engram-gate-{a.version}", a.manifest, a.version)
    else:
        a.out.write_text(json.dumps(fixture(), indent=1) + "\n")
        res = {"out": str(a.out), "cases": len(_FIXTURE)}
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
