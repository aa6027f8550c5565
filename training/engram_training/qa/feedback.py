"""Feedback files exported by the extension (DESIGN.md "Feedback files") as training data.

One JSON object per line. Two shapes are read:
- the engine's record: `question`, `answer`, `verdict` ("up"|"down"), optional
  `correctedAnswer`, `citations`/`evidence` ([{path,startLine,endLine}]), `trace`
  (trace events), `blocks` ([{path,startLine,endLine,relevant:bool}]);
- TRL rows: `{prompt, completion, label}` (KTO) and `{prompt, chosen, rejected}` (DPO).

Malformed lines are skipped and counted by reason, never fatal.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


@dataclass
class FeedbackData:
    qa: list[dict] = field(default_factory=list)  # QA records (kind "feedback")
    gate: list[dict] = field(default_factory=list)  # {question, memory, path, startLine, endLine, label}
    kto: list[dict] = field(default_factory=list)  # {prompt, completion, label}
    dpo: list[dict] = field(default_factory=list)  # {prompt, chosen, rejected}
    lines: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> count

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def _range(x: object) -> dict | None:
    if not isinstance(x, dict):
        return None
    path, s, e = x.get("path"), x.get("startLine"), x.get("endLine")
    if not isinstance(path, str) or not path or not isinstance(s, int) or not isinstance(e, int) or s < 1 or e < s:
        return None
    return {"path": path, "startLine": s, "endLine": e}


def _ranges(xs: object) -> list[dict] | None:
    if xs is None:
        return []
    if not isinstance(xs, list):
        return None
    out = [_range(x) for x in xs]
    return None if any(r is None for r in out) else [r for r in out if r is not None]


def _qid(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _read_record(rec: dict, data: FeedbackData) -> str | None:
    """Adds what the record teaches; returns a skip reason if it is malformed."""
    if "prompt" in rec:
        p = rec["prompt"]
        if not isinstance(p, str) or not p.strip():
            return "bad-prompt"
        if "chosen" in rec or "rejected" in rec:
            if not isinstance(rec.get("chosen"), str) or not isinstance(rec.get("rejected"), str):
                return "bad-dpo-row"
            data.dpo.append({"prompt": p, "chosen": rec["chosen"], "rejected": rec["rejected"]})
            return None
        if not isinstance(rec.get("completion"), str) or not isinstance(rec.get("label"), bool):
            return "bad-kto-row"
        data.kto.append({"prompt": p, "completion": rec["completion"], "label": rec["label"]})
        return None
    q = rec.get("question")
    if not isinstance(q, str) or not q.strip():
        return "no-question"
    verdict = rec.get("verdict")
    if verdict not in (None, "up", "down"):
        return "bad-verdict"
    answer = rec.get("answer")
    if answer is not None and not isinstance(answer, str):
        return "bad-answer"
    corrected = rec.get("correctedAnswer", rec.get("corrected_answer"))
    if corrected is not None and not isinstance(corrected, str):
        return "bad-corrected-answer"
    cites = _ranges(rec.get("citations", rec.get("evidence")))
    if cites is None:
        return "bad-citations"
    blocks = rec.get("blocks") or []
    if not isinstance(blocks, list):
        return "bad-blocks"
    marked: list[tuple[dict, bool]] = []
    for b in blocks:
        r = _range(b)
        if r is None or not isinstance(b.get("relevant"), bool):
            return "bad-blocks"
        marked.append((r, b["relevant"]))
    relevant = [r for r, ok in marked if ok]
    if corrected and corrected.strip():
        data.qa.append({"id": _qid(q, corrected), "question": q, "answer": corrected.strip(),
                        "evidence": relevant or cites, "kind": "feedback", "repo": rec.get("repo", ""),
                        "source": "corrected"})
    elif verdict == "up" and answer:
        data.qa.append({"id": _qid(q, answer), "question": q, "answer": answer.strip(), "evidence": cites,
                        "kind": "feedback", "repo": rec.get("repo", ""), "source": "thumbs-up"})
    for r, ok in marked:
        data.gate.append({"question": q, "memory": "", **r, "label": 1 if ok else 0})
    if verdict in ("up", "down") and answer:
        data.kto.append({"prompt": q, "completion": answer, "label": verdict == "up"})
    if corrected and answer and corrected.strip() != answer.strip():
        data.dpo.append({"prompt": q, "chosen": corrected, "rejected": answer})
    return None


def feedback_records(path: Path) -> Iterator[dict | str]:
    """Each non-empty line of a feedback file: its JSON object, or why it is malformed
    ("not-json", "not-an-object") for the caller to count."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                yield "not-json"
                continue
            yield rec if isinstance(rec, dict) else "not-an-object"


def read_feedback(paths: Iterable[Path]) -> FeedbackData:
    data = FeedbackData()
    for path in paths:
        for rec in feedback_records(path):
            data.lines += 1
            reason = rec if isinstance(rec, str) else _read_record(rec, data)
            if reason:
                data.skipped[reason] += 1
    return data
