"""Fine-tuning the shipped extractive reader from the feedback file the engine writes
(`python -m engram_training finetune-from-feedback FILE.jsonl`, DESIGN.md "Feedback files").

What each record teaches the reader (one window of a block, as the reader reads it):
- a thumbs-up answer, or a corrected answer: an answer span, the answer's text found on the
  cited lines (a corrected answer: on the blocks marked relevant, else on the cited lines) of
  the file in the user's workspace (`repo` in the record, or `--workspace`). A "where" answer
  (`path:line`) is the question's name on that line, as the reader is trained to point;
- a thumbs-down answer: its cited window must say "not here", unless the corrected answer was
  found on those same lines (then that window is the corrected answer's positive instead);
- a block marked irrelevant: "not here", and no line of it worth keeping.
The block around a cited line is the one the engine read (the trace's `read` events), else
the block `chunk_file` cuts; the working memory is the one the engine had before that read.
Records whose lines cannot be read or whose answer is not on them (the file changed since)
are skipped, each with a reason. Answer pairs (DPO) are counted and not used: they train a
generative reasoner, and Engram ships none yet.

The feedback windows are mixed with a replay sample of the base model's own training data
(so it does not forget) and trained from the base's PyTorch weights: shipped folders hold
ONNX only, so the weights come from its training run (`--base-run`, else the run under
`--data` whose outputs match the base's ONNX, checked either way). The new version is
written beside the base through `publish_reader`, with a card section and a manifest entry
comparing base and new on the held-out rows and on the feedback windows; the base folder and
its manifest entry are left as they are.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .blocks import chunk_file
from .publish import update_manifest
from .qa.feedback import FeedbackData, _read_record, feedback_records
from .reader import (F_BLOCK, F_KEEP, F_SPAN, MAX_SPAN, Packed, ReaderEncoder, Window, config_of, evaluate,
                     find_in_line, load_model, normalize, onnx_forward, onnx_gap, run_from_onnx, run_windows, score_rows,
                     span_text, span_tokens, torch_forward, train)
from .reader_publish import _qrow, _row, model_card, publish_reader

LOW_CONFIDENCE = "Not sure (low confidence)"  # src/core/reason/extractive.ts: evidence, not an answer
_WHERE_ANSWER = re.compile(r"^(.+?):(\d+)(?:-(\d+))?$")
_CODE_WORD = re.compile(r"`([A-Za-z_$][A-Za-z0-9_$]*)`|\b([A-Za-z_$][A-Za-z0-9_$]*(?:_[A-Za-z0-9_$]*|[a-z][A-Z][A-Za-z0-9_$]*))\b")


class FinetuneError(Exception):
    """A user mistake (bad paths, nothing to train on): a clear message, exit code 1."""


@dataclass
class Example:
    row: dict  # the evaluation-row shape of reader.py (validation.jsonl), plus "keepSignal"
    window: Window
    span: tuple[int, int] | None
    kept: list[int]  # window lines worth keeping
    keep_signal: bool  # False: the record says nothing about which lines to keep


@dataclass
class FeedbackWindows:
    examples: list[Example] = field(default_factory=list)
    lines: int = 0
    malformed: Counter = field(default_factory=Counter)  # lines feedback.py rejects, by reason
    replaced: int = 0  # records a later one with the same askId replaces (as the engine reads them)
    records_used: int = 0
    skipped: Counter = field(default_factory=Counter)  # readable records that gave no window, by reason
    dropped: Counter = field(default_factory=Counter)  # parts of used records that gave no window
    dpo_pairs: int = 0
    kto_rows_without_lines: int = 0

    def counts(self) -> dict:
        by_kind = Counter(e.row["kind"] for e in self.examples)
        return {"lines": self.lines, "records_used": self.records_used, "replaced_by_later_record": self.replaced,
                "malformed": dict(self.malformed), "skipped": dict(self.skipped), "dropped_parts": dict(self.dropped),
                "windows": len(self.examples), "positives": sum(1 for e in self.examples if e.span),
                "negatives": sum(1 for e in self.examples if not e.span), "by_kind": dict(by_kind),
                "dpo_pairs": self.dpo_pairs, "kto_rows_without_lines": self.kto_rows_without_lines}


class _Skip(Exception):
    pass


# ---------------------------------------------------------------- records -> windows


class _Workspace:
    """Source lines of the files records cite, read once; every failure is a skip reason."""

    def __init__(self, override: Path | None) -> None:
        self.override = override
        self.cache: dict[Path, list[str] | str] = {}

    def lines(self, repo: object, path: str) -> list[str]:
        root = self.override or (Path(repo) if isinstance(repo, str) and repo else None)
        if root is None:
            raise _Skip("no-workspace-in-record")
        if not root.is_dir():
            raise _Skip("workspace-not-found")
        f = (root / path).resolve()
        if Path(path).is_absolute() or not f.is_relative_to(root.resolve()):
            raise _Skip("path-outside-workspace")
        hit = self.cache.get(f)
        if hit is None:
            try:
                hit = f.read_text("utf-8").split("\n")
            except FileNotFoundError:
                hit = "file-not-found"
            except (OSError, UnicodeDecodeError):
                hit = "unreadable-file"
            self.cache[f] = hit
        if isinstance(hit, str):
            raise _Skip(hit)
        return hit


def _question_names(question: str) -> list[str]:
    """Names a "where" question asks about: backticked identifiers, then code-like words."""
    out: list[str] = []
    for m in _CODE_WORD.finditer(question):
        n = m.group(1) or m.group(2)
        if n not in out:
            out.append(n)
    return out


def _memory_before(trace: list, path: str, start: int) -> str:
    """The working memory the engine had when it read this block ("" when it never read it)."""
    memory = ""
    for e in trace:
        if not isinstance(e, dict):
            continue
        if e.get("type") == "read" and e.get("path") == path and e.get("startLine") == start:
            return memory
        if e.get("type") == "memory" and isinstance(e.get("memory"), str):
            memory = e["memory"]
    return ""


def _block(trace: list, path: str, line: int, src: list[str]) -> tuple[int, int]:
    """The block holding `line`: the one the engine read, else the one chunk_file cuts."""
    for e in trace:
        if (isinstance(e, dict) and e.get("type") == "read" and e.get("path") == path
                and isinstance(e.get("startLine"), int) and isinstance(e.get("endLine"), int)
                and e["startLine"] <= line <= e["endLine"] <= len(src)):
            return e["startLine"], e["endLine"]
    for b in chunk_file(path, "\n".join(src)):
        if b.start <= line <= b.end:
            return b.start, b.end
    return line, line


def _target(question: str, answer: str) -> tuple[list[str], dict | None]:
    """The texts an approved answer stands for on its lines, and, for a "where" answer
    (`path:line`), the place it names: there the reader points at the asked name."""
    if answer.startswith(LOW_CONFIDENCE):
        raise _Skip("low-confidence-evidence")
    if re.match(r"^not found\b", answer, re.I):
        raise _Skip("not-found-answer")
    m = _WHERE_ANSWER.match(answer)
    if m and not any(ch.isspace() for ch in m.group(1)):
        names = _question_names(question)
        if not names:
            raise _Skip("where-answer-without-name")
        start = int(m.group(2))
        return names, {"path": m.group(1), "startLine": start, "endLine": max(start, int(m.group(3) or start))}
    if "\n" in answer:
        raise _Skip("multi-line-answer")
    return list(dict.fromkeys(t for t in (answer, normalize(answer)) if t)), None


def _overlaps(w: Window, start: int, end: int) -> bool:
    return w.start_line <= end and start <= w.start_line + len(w.lines) - 1


class _RecordReader:
    def __init__(self, enc: ReaderEncoder, files: _Workspace) -> None:
        self.enc, self.files = enc, files

    def _windows(self, rec: dict, path: str, start: int, end: int) -> tuple[str, list[Window]]:
        src = self.files.lines(rec.get("repo"), path)
        memory = _memory_before(rec.get("trace") or [], path, start)
        return memory, self.enc.windows(self.enc.prefix(rec["question"], memory, path), src[start - 1:end], start)

    def _example(self, rec: dict, kind: str, memory: str, path: str, w: Window, span: tuple[int, int] | None,
                 target: str | None, kept: list[int], keep_signal: bool) -> Example:
        row = {"qid": str(rec.get("id") or rec.get("askId") or ""), "kind": kind, "question": rec["question"],
               "memory": memory, "path": path, "startLine": w.start_line, "lines": w.lines,
               "target": target if span else None, "targetText": span_text(w, *span)[0] if span else None,
               "answerLines": [w.start_line + w.line_of[span[0]], w.start_line + w.line_of[span[1]]] if span else None,
               "keepLines": [w.start_line + k for k in kept], "keepSignal": keep_signal}
        return Example(row, w, span, kept, keep_signal)

    def positive(self, rec: dict, kind: str, targets: list[str], evidence: list[dict]) -> Example:
        if not evidence:
            raise _Skip("no-citations")
        reason = "answer-not-on-cited-lines"
        for ev in evidence:
            try:
                src = self.files.lines(rec.get("repo"), ev["path"])
            except _Skip as s:
                reason = str(s)
                continue
            if ev["startLine"] > len(src):
                reason = "lines-out-of-range"
                continue
            for n in range(ev["startLine"], min(ev["endLine"], len(src)) + 1):
                for t in targets:
                    hit = find_in_line(src[n - 1], t)
                    if hit:
                        return self._span_example(rec, kind, ev["path"], src, n, hit, t, evidence)
        raise _Skip(reason)

    def _span_example(self, rec: dict, kind: str, path: str, src: list[str], n: int, hit: tuple[int, int],
                      target: str, evidence: list[dict]) -> Example:
        memory, wins = self._windows(rec, path, *_block(rec.get("trace") or [], path, n, src))
        w = next(w for w in wins if _overlaps(w, n, n))
        st = span_tokens(w, n - w.start_line, *hit)
        if st is None:
            raise _Skip("answer-beyond-line-token-limit")
        if st[1] - st[0] >= MAX_SPAN:
            raise _Skip("answer-span-too-long")
        # Lines worth keeping: the answer's, and short cited ranges (as the QA labels do).
        kept = {n - w.start_line}
        for ev in evidence:
            if ev["path"] == path and ev["endLine"] - ev["startLine"] < 3:
                kept.update(k - w.start_line for k in range(ev["startLine"], ev["endLine"] + 1) if _overlaps(w, k, k))
        return self._example(rec, kind, memory, path, w, st, target, sorted(kept), True)

    def negatives(self, rec: dict, kind: str, r: dict, whole_block: bool, avoid: Example | None) -> list[Example]:
        """"Not here" windows of a cited range (in its block) or of a whole marked block."""
        path, start, end = r["path"], r["startLine"], r["endLine"]
        src = self.files.lines(rec.get("repo"), path)
        if end > len(src):
            raise _Skip("lines-out-of-range")
        bs, be = (start, end) if whole_block else _block(rec.get("trace") or [], path, start, src)
        memory, wins = self._windows(rec, path, min(bs, start), max(be, end))
        out = []
        for w in wins:
            if not _overlaps(w, start, end):
                continue
            if avoid and avoid.row["path"] == path and _overlaps(w, avoid.row["answerLines"][0], avoid.row["answerLines"][0]):
                raise _Skip("negative-window-holds-the-answer")
            # An irrelevant block has no line worth keeping; a wrong answer says nothing about that.
            out.append(self._example(rec, kind, memory, path, w, None, None, [], whole_block))
        return out

    def read(self, rec: dict) -> tuple[list[Example], list[str]]:
        """The windows one engine record teaches, and why parts of it teach nothing."""
        q = rec["question"]
        answer = (rec.get("answer") or "").strip()
        corrected = (rec.get("correctedAnswer", rec.get("corrected_answer")) or "").strip()
        verdict = rec.get("verdict")
        cites = rec.get("citations", rec.get("evidence")) or []
        marked = rec.get("blocks") or []
        relevant = [b for b in marked if b["relevant"]]
        out: list[Example] = []
        reasons: list[str] = []
        pos: Example | None = None
        try:
            if corrected:
                targets, place = _target(q, corrected)
                pos = self.positive(rec, "corrected", targets, [place] if place else (relevant or cites))
            elif verdict == "up" and answer:
                targets, place = _target(q, answer)
                pos = self.positive(rec, "thumbs-up", targets, [place] if place else cites + relevant)
        except _Skip as s:
            reasons.append(str(s))
        if pos:
            out.append(pos)
        negs: list[tuple[str, dict, bool]] = []
        unsure = corrected and pos is None and not relevant  # the correction may point at the cited lines
        if verdict == "down" and (not cites or unsure):
            reasons.append("thumbs-down-without-citations" if not cites else "correction-not-located")
        elif verdict == "down":
            for c in cites:
                if pos and pos.row["path"] == c["path"] and c["startLine"] <= pos.row["answerLines"][0] <= c["endLine"]:
                    continue  # the correction points at these same lines: positive, not "not here"
                if any(b["path"] == c["path"] and b["startLine"] <= c["endLine"] and c["startLine"] <= b["endLine"]
                       for b in relevant):
                    reasons.append("cited-block-marked-relevant")
                    continue
                negs.append(("thumbs-down", c, False))
        negs += [("irrelevant-block", b, True) for b in marked if not b["relevant"]]
        for kind, r, whole in negs:
            try:
                out.extend(self.negatives(rec, kind, r, whole, pos))
            except _Skip as s:
                reasons.append(str(s))
        return out, reasons


def read_feedback_windows(path: Path, enc: ReaderEncoder, workspace: Path | None = None) -> FeedbackWindows:
    """Training windows from a feedback file; malformed lines as feedback.py counts them."""
    out = FeedbackWindows()
    raw: list[dict] = []
    for rec in feedback_records(path):
        out.lines += 1
        if isinstance(rec, str):
            out.malformed[rec] += 1
        else:
            raw.append(rec)
    ask = [r.get("askId") if isinstance(r.get("askId"), str) and r.get("askId") else None for r in raw]
    last = {a: i for i, a in enumerate(ask) if a}  # the engine's rule: a later record of a question replaces it
    parsed = FeedbackData()
    reader = _RecordReader(enc, _Workspace(workspace))
    for i, rec in enumerate(raw):
        if ask[i] and last[ask[i]] != i:
            out.replaced += 1
            continue
        reason = _read_record(rec, parsed)
        if reason:
            out.malformed[reason] += 1
            continue
        if "prompt" in rec:  # TRL rows: pairs are counted below; a KTO row has no lines to read
            if "chosen" not in rec:
                out.kto_rows_without_lines += 1
            continue
        examples, reasons = reader.read(rec)
        out.examples.extend(examples)
        if examples:
            out.records_used += 1
            out.dropped.update(reasons)
        else:
            out.skipped[reasons[0] if reasons else "nothing-to-learn"] += 1
    out.dpo_pairs = len(parsed.dpo)
    return out


# ---------------------------------------------------------------- base model, data, mix


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def shipped_reader(models: Path) -> Path:
    """The first engram-reader in MODELS/manifest.json (the engine's default reasoner)."""
    manifest = models / "manifest.json"
    entries = json.loads(manifest.read_text()).get("models", []) if manifest.exists() else []
    for m in entries:
        folder = models / str(m.get("path", ""))
        if m.get("role") == "reasoner" and (folder / "config.json").exists() and \
                json.loads((folder / "config.json").read_text()).get("model_type") == "engram-reader":
            return folder
    raise FinetuneError(f"no engram-reader in {manifest}: pass --base MODELS/reader-VERSION")


def _version_of(models: Path, base: Path) -> str:
    manifest = models / "manifest.json"
    for m in json.loads(manifest.read_text()).get("models", []) if manifest.exists() else []:
        if m.get("path") == base.name and m.get("version"):
            return str(m["version"])
    return base.name.removeprefix("reader-")


def next_version(models: Path, version: str) -> str:
    """The next patch version whose folder is free (0.1.0 -> 0.1.1, or 0.1.2 if that exists)."""
    m = re.match(r"^(\d+)\.(\d+)\.(\d+)$", version)
    for k in range(1, 1000):
        v = f"{m.group(1)}.{m.group(2)}.{int(m.group(3)) + k}" if m else f"{version}-ft{k}"
        if not (models / f"reader-{v}").exists():
            return v
    raise FinetuneError(f"no free version after {version} in {models}")


def _has_weights(run: Path) -> bool:
    return (run / "model.pt").exists() or any(run.glob("model.part*.pt"))


def find_base_run(base: Path, data: Path, base_run: Path | None, log=_say) -> tuple[Path, float]:
    """The training run whose weights are the base's ONNX: `base_run` if given (checked), else the
    run the base's finetune.json names, else any run under DATA/reader*/ or DATA/finetune/ whose
    config matches the base's and whose outputs match its ONNX."""
    fwd = onnx_forward(base / "onnx" / "model.onnx")
    if base_run is not None:
        if not (base_run / "train.json").exists() or not _has_weights(base_run):
            raise FinetuneError(f"--base-run {base_run}: no train.json with model.pt or model.part*.pt there")
        gap = onnx_gap(base_run, fwd)
        if gap > 1e-3:
            raise FinetuneError(f"--base-run {base_run} is not the model in {base} (outputs differ by {gap:.3g})")
        return base_run, gap
    cfg = json.loads((base / "config.json").read_text())
    cands: list[Path] = []
    if (base / "finetune.json").exists():
        cands.append(Path(json.loads((base / "finetune.json").read_text())["run"]))
    found = [p.parent for top in [*sorted(data.glob("reader*")), data / "finetune"] if top.is_dir()
             for p in top.rglob("train.json") if ".stale-" not in str(p)]
    cands += sorted(found, key=lambda r: -(r / "train.json").stat().st_mtime)
    for run in dict.fromkeys(cands):
        if not (run / "train.json").exists() or not _has_weights(run):
            continue
        try:
            c = config_of(json.loads((run / "train.json").read_text()).get("config", {}))
        except (TypeError, ValueError) as e:  # a run of an older reader, or a train.json cut short
            log(f"skipped {run}: not a run of this reader ({e})")
            continue
        if any(getattr(c, k) != cfg.get(k) for k in ("vocab_size", "d_model", "layers", "heads", "ff")):
            continue
        gap = onnx_gap(run, fwd)
        if gap <= 1e-3:
            log(f"base weights: {run} (outputs match {base.name}'s ONNX within {gap:.1e})")
            return run, gap
    # A fresh checkout has the shipped model and none of its runs: its weights are read back from the ONNX.
    run = data / "finetune" / f"from-onnx-{base.name}"
    try:
        gap = run_from_onnx(base, run)["onnx_max_abs_diff"]
    except (OSError, KeyError, ValueError) as e:
        raise FinetuneError(f"no training run under {data}/reader*/ or {data}/finetune/ matches {base}'s ONNX, and "
                            f"its weights could not be read back from it ({e}): pass --base-run DIR") from e
    log(f"base weights: read back from {base.name}'s ONNX into {run} (outputs match within {gap:.1e})")
    return run, gap


def find_heldout(base: Path, base_run: Path, data: Path, heldout: Path | None) -> Path:
    """The base's reader data folder: held-out validation/test rows, and train.npz for replay."""
    def ok(d: Path) -> bool:
        return (d / "validation.jsonl").exists() and (d / "test.jsonl").exists()
    if heldout is not None:
        if not ok(heldout):
            raise FinetuneError(f"--heldout {heldout}: needs validation.jsonl and test.jsonl (python -m engram_training.reader data)")
        return heldout
    cands = []
    if (base / "finetune.json").exists():
        cands.append(Path(json.loads((base / "finetune.json").read_text())["heldout"]))
    cands += [base_run.parent, base_run.parent.parent, base_run.parent.parent.parent, *sorted(data.glob("reader*"))]
    for d in cands:
        if ok(d):
            return d
    raise FinetuneError(f"no reader data with validation.jsonl and test.jsonl near {base_run} or under {data}: pass --heldout DIR")


def _flags(e: Example) -> np.ndarray:
    kept = set(e.kept)
    w = e.window
    return np.array([(F_SPAN if s else 0) | (F_KEEP if ln in kept else 0) | (F_BLOCK if ln >= 0 and e.keep_signal else 0)
                     for s, ln in zip(w.spanable, w.line_of)], dtype=np.uint8)


def write_mix(out: Path, examples: list[Example], replay: Path | None, total: int, replay_ratio: float,
              seed: int) -> dict:
    """train.npz (reader.Packed layout): the feedback windows, repeated to about 1/(1+ratio) of
    `total`, and a replay sample of the base's training windows for the rest."""
    share = 1.0 if replay is None or replay_ratio <= 0 else 1.0 / (1.0 + replay_ratio)
    copies = max(1, math.ceil(total * share / len(examples)))
    seqs: list[tuple[np.ndarray, np.ndarray, int, int, int]] = []
    for e in examples:
        row = (np.array(e.window.ids, dtype=np.uint16), _flags(e), e.span[0] if e.span else -1,
               e.span[1] if e.span else -1, 0 if e.span else 1)
        seqs.extend([row] * copies)
    n_replay = 0
    if share < 1.0 and replay is not None:
        ds = Packed(replay)
        n_replay = min(len(ds), max(0, total - len(seqs)))
        for i in sorted(np.random.default_rng(seed).choice(len(ds), n_replay, replace=False).tolist()):
            a, b = ds.offsets[i], ds.offsets[i + 1]
            seqs.append((ds.ids[a:b], ds.flags[a:b], int(ds.start[i]), int(ds.end[i]), int(ds.na[i])))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s[0]) for s in seqs])
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "train.npz", ids=np.concatenate([s[0] for s in seqs]),
                        flags=np.concatenate([s[1] for s in seqs]), offsets=offsets,
                        start=np.array([s[2] for s in seqs], dtype=np.int16), end=np.array([s[3] for s in seqs], dtype=np.int16),
                        na=np.array([s[4] for s in seqs], dtype=np.uint8))
    return {"feedback_windows": len(examples), "feedback_copies": copies, "replay_windows": n_replay,
            "replay_from": str(replay) if n_replay else None, "windows": len(seqs)}


# ---------------------------------------------------------------- the whole run


@dataclass
class FinetuneSettings:
    steps: int = 200
    batch_size: int = 32
    lr: float = 1e-4
    replay_ratio: float = 3.0  # replay windows per feedback window in the mix
    device: str = "auto"
    seed: int = 0
    budget_s: float = 3600.0
    eval_limit: int | None = None  # held-out rows per split (None: all)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fresh_run(run: Path, key: str, log) -> None:
    """Resume only a checkpoint these same inputs and settings wrote; move any other aside."""
    note = run / "finetune-key.json"
    old = json.loads(note.read_text()).get("key") if note.exists() else None
    if (run / "ckpt.pt").exists() and old != key:
        aside = run.with_name(f"{run.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
        run.rename(aside)
        log(f"{run} held a checkpoint from other inputs: moved to {aside}")
    run.mkdir(parents=True, exist_ok=True)
    note.write_text(json.dumps({"key": key}) + "\n")


def _feedback_scores(examples: list[Example], forward, th: dict) -> dict:
    rows = [e.row for e in examples]
    return score_rows(rows, run_windows([e.window for e in examples], forward), th)


def finetune_from_feedback(feedback: Path, models: Path, base: Path | None = None, version: str | None = None,
                           base_run: Path | None = None, data: Path = Path(".data"), heldout: Path | None = None,
                           workspace: Path | None = None, settings: FinetuneSettings | None = None, log=_say) -> dict:
    s = settings or FinetuneSettings()
    if not feedback.is_file():
        raise FinetuneError(f"no feedback file {feedback}")
    base = base or shipped_reader(models)
    if not (base / "onnx" / "model.onnx").exists() or not (base / "tokenizer.json").exists():
        raise FinetuneError(f"{base} is not a shipped reader folder (onnx/model.onnx, tokenizer.json)")
    base_version = _version_of(models, base)
    version = version or next_version(models, base_version)
    out = models / f"reader-{version}"
    if out.exists() or out.resolve() == base.resolve():
        raise FinetuneError(f"{out} exists; the new version goes beside it: pick another --version")
    tok_json = base / "tokenizer.json"  # the base's own tokenizer: the windows must be its inputs
    enc = ReaderEncoder(tok_json)

    fb = read_feedback_windows(feedback, enc, workspace)
    counts = fb.counts()
    log(f"feedback: {counts['lines']} lines, {counts['records_used']} records used, {counts['positives']} answer "
        f"windows, {counts['negatives']} 'not here' windows; skipped {counts['skipped']}, malformed {counts['malformed']}")
    if fb.dpo_pairs:
        log(f"{fb.dpo_pairs} answer pairs (DPO) counted, not used: they train a generative reasoner, and Engram ships none yet")
    if not fb.examples:
        raise FinetuneError(f"nothing to train on in {feedback}: {json.dumps(counts)}")

    run0, gap = find_base_run(base, data, base_run, log)
    held = find_heldout(base, run0, data, heldout)
    replay = held / "train.npz" if (held / "train.npz").exists() and s.replay_ratio > 0 else None
    work = data / "finetune" / out.name
    mix = write_mix(work, fb.examples, replay, s.steps * s.batch_size, s.replay_ratio, s.seed)
    (work / "feedback.jsonl").write_text("".join(json.dumps(e.row) + "\n" for e in fb.examples))
    log(f"mix: {mix}")
    key = hashlib.sha256(json.dumps({"feedback": _sha256(feedback), "base_run": str(run0), "mix": mix,
                                     "settings": vars(s)}, sort_keys=True).encode()).hexdigest()[:16]
    run = work / "run"
    _fresh_run(run, key, log)
    info = train(work, run, None, s.budget_s, s.steps * s.batch_size / mix["windows"], s.batch_size, s.lr, s.seed,
                 s.device, log, init=run0, warmup=max(1, s.steps // 10), tokenizer=tok_json)

    # publish_reader writes the entry named engram-reader; a side manifest keeps the base's entry untouched.
    # It is written to a hidden folder renamed at the end, so a crash leaves no half version behind.
    side = models / f".manifest-{version}.tmp.json"
    part = models / f".{out.name}.partial"
    shutil.rmtree(part, ignore_errors=True)
    try:
        pub = publish_reader(held, run, part, base, side, version, eval_limit=s.eval_limit, card=False)
        entry = next(m for m in json.loads(side.read_text())["models"] if m["path"] == part.name)
    finally:
        side.unlink(missing_ok=True)
    new_evals = json.loads((run / "eval_onnx.json").read_text())
    base_fwd, new_fwd = onnx_forward(base / "onnx" / "model.onnx"), onnx_forward(part / "onnx" / "model.onnx")
    base_eval = evaluate(held, run0, tok_json, forward=base_fwd, limit=s.eval_limit)
    new_eval = new_evals["fp32"]
    on_feedback = {"base": _feedback_scores(fb.examples, base_fwd, base_eval["thresholds"]),
                   "new": _feedback_scores(fb.examples, new_fwd, new_eval["thresholds"])}
    summary = {"base": base.name, "base_version": base_version, "base_run": str(run0), "base_onnx_gap": gap,
               "heldout": str(held), "run": str(run), "feedback_file": feedback.name, "feedback_sha256": _sha256(feedback),
               "feedback": counts, "mix": mix,
               "training": {k: info[k] for k in ("steps", "batch_size", "lr", "seconds", "device_name", "examples_seen")},
               "heldout_eval": {"base": {k: base_eval[k] for k in ("thresholds", "validation", "test")},
                                "new": {k: new_eval[k] for k in ("thresholds", "validation", "test")}},
               "feedback_eval": on_feedback, "eval_limit": s.eval_limit}
    (part / "finetune.json").write_text(json.dumps(summary, indent=1) + "\n")
    model = load_model(run)
    base_info = json.loads((run0 / "train.json").read_text())
    stats = json.loads((held / "stats.json").read_text()) if (held / "stats.json").exists() else {}
    card = model_card(version, model, base_info, new_evals, pub["parity"], stats, pub["parameters"])
    card = card.replace("Trained from scratch by `training/` (issue 6).",
                        f"Fine-tuned by `training/` from engram-reader {base_version} on user feedback (see the last "
                        "section); the base was trained from scratch (issue 6).")
    card = card.replace("## Training budget\n", f"## Training budget (of the base, {base_version})\n")
    (part / "README.md").write_text(card + feedback_section(summary))
    part.rename(out)
    keys = ("span_em_positives", "no_answer_accuracy_negatives", "overall_em", "windows")
    pick = lambda r: {**{k: r[k] for k in keys}, "question_accuracy": r["question_level"]["accuracy"]}  # noqa: E731
    entry["name"], entry["path"] = f"engram-reader-{version}", out.name
    entry["eval"]["finetune"] = {
        "base": base_version, "feedback": {k: counts[k] for k in ("windows", "positives", "negatives", "dpo_pairs")},
        "test_base": pick(base_eval["test"]), "test_new": pick(new_eval["test"]),
        "feedback_base": pick(on_feedback["base"]), "feedback_new": pick(on_feedback["new"])}
    update_manifest(models / "manifest.json", entry, models)
    log(f"wrote {out} and its manifest entry {entry['name']}; {base} is unchanged")
    return {"out": str(out), "version": version, "parity": pub["parity"], **summary}


def _fb_row(name: str, r: dict) -> str:
    return (f"| {name} | {r['windows']} | {r['span_em_positives']} | {r['no_answer_accuracy_negatives']} | "
            f"{r['answered']} / {r['answer_precision']} | {r['overall_em']} | {r['question_level']['accuracy']} |")


def feedback_section(x: dict) -> str:
    c, m, t = x["feedback"], x["mix"], x["training"]
    hb, hn = x["heldout_eval"]["base"], x["heldout_eval"]["new"]
    fb, fn = x["feedback_eval"]["base"], x["feedback_eval"]["new"]
    skipped = ", ".join(f"{k} {v}" for k, v in sorted({**c["skipped"], **{f"malformed: {k}": v for k, v in c["malformed"].items()}}.items())) or "none"
    kinds = c["by_kind"]
    replay = (f"{m['replay_windows']} windows sampled from `{m['replay_from']}` (the base's training data), so the "
              "model does not forget what it knew" if m["replay_windows"] else "none (no training data of the base was found: forgetting is not guarded against)")
    kinds_q = sorted(hb["test"]["question_level"]["by_kind"])
    limit = f"the first {x['eval_limit']} rows of each split" if x["eval_limit"] else "all rows"
    return f"""
## Fine-tuning from user feedback ({x['base_version']} → this version)
Base: `{x['base']}`, weights from the training run `{x['base_run']}` (its PyTorch outputs match the
base's ONNX within {x['base_onnx_gap']:.1e}). Feedback file `{x['feedback_file']}` (sha256 {x['feedback_sha256'][:16]}…):
{c['lines']} lines, {c['records_used']} records used, {c['replaced_by_later_record']} replaced by a later record of the same question;
skipped: {skipped}.

- Answer windows (span = the answer's text on the cited lines of the workspace file): thumbs-up
  {kinds.get('thumbs-up', 0)}, corrected {kinds.get('corrected', 0)}. "Not here" windows: thumbs-down
  {kinds.get('thumbs-down', 0)}, blocks marked irrelevant {kinds.get('irrelevant-block', 0)}.
- Answer pairs (DPO): {c['dpo_pairs']} counted, not used. Preference pairs train a generative reasoner,
  and Engram ships none yet; this reader points at source spans and writes no text.
- Mix: each feedback window {m['feedback_copies']}×; replay: {replay}. {m['windows']} windows in all.
- {t['steps']} steps of batch {t['batch_size']} ({t['examples_seen']} windows), AdamW lr {t['lr']}, warmup then cosine,
  {t['seconds']:.0f} s on {t['device_name']}, starting from the base's weights.

Held-out comparison ({limit} of the base's validation and test sets; shipped ONNX fp32 files; each
model's answer thresholds tuned on validation, as when it shipped: base {hb['thresholds']}, new {hn['thresholds']}):

| model | windows | span EM (positives) | no-answer acc. (negatives) | answers given / precision | overall EM | always "not found" | keep recall | keep precision |
|---|---|---|---|---|---|---|---|---|
{_row(f"base {x['base_version']} (test)", hb['test'])}
{_row('new (test)', hn['test'])}
{_row(f"base {x['base_version']} (validation)", hb['validation'])}
{_row('new (validation)', hn['validation'])}

Per question, as the engine answers (the answering window with the best score gives the answer):

| model | questions | accuracy | answered | {' | '.join(kinds_q)} |
|---|---|---|---|{'---|' * len(kinds_q)}
{_qrow(f"base {x['base_version']} (test)", hb['test']['question_level'], kinds_q)}
{_qrow('new (test)', hn['test']['question_level'], kinds_q)}
{_qrow(f"base {x['base_version']} (validation)", hb['validation']['question_level'], kinds_q)}
{_qrow('new (validation)', hn['validation']['question_level'], kinds_q)}

On the feedback windows themselves. These are training windows of the new model: this shows the
feedback was learned, not that it generalises (the held-out rows above say that).

| model | windows | span EM (positives) | no-answer acc. (negatives) | answers given / precision | overall EM | per-question accuracy |
|---|---|---|---|---|---|---|
{_fb_row(f"base {x['base_version']}", fb)}
{_fb_row('new', fn)}
"""
