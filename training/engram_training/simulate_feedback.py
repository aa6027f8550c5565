"""A simulated user: the engine's feedback records from an engine evaluation, judged against the QA's answers.

Fine-tuning from feedback (finetune.py) needs a feedback file before any user has written one. This one
is what a careful user would have said about each answer of `python -m engram_training eval` (its
report.json, whose context folders hold the files the answers cite):

| the engine's reply | expected | record |
|---|---|---|
| a confident answer, right | an answer | thumbs-up |
| a confident answer, wrong | an answer | thumbs-down, the expected answer as the correction, its evidence marked relevant |
| low confidence or "not found" | an answer | the same correction (the user points at the evidence) |
| a confident answer | "not found" | thumbs-down (its citations are "not here") |
| "not found" or low confidence | "not found" | nothing: there is nothing to teach |

    python -m engram_training simulate-feedback .data/eval-val/report.json --out .data/feedback-sim.jsonl

Run it on validation questions only: the test split stays for judging the fine-tuned model.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from .qa.generate import NOT_FOUND


def _record(row: dict, repo: Path, when: str) -> dict | None:
    expected = str(row.get("expected") or "")
    answer = str(row.get("answer") or "")
    confident = row.get("confidence") == "answer"
    ask_id = hashlib.sha256(f"{row.get('context')}\0{row.get('id')}".encode()).hexdigest()[:16]
    rec: dict = {"id": ask_id, "askId": ask_id, "repo": str(repo.resolve()), "question": row["question"], "answer": answer,
                 "citations": row.get("citations") or [], "trace": [], "mode": row.get("mode", "gated"),
                 "models": {"feedback": "simulated"}, "timestamp": when}
    if expected.strip().lower() == NOT_FOUND:
        return {**rec, "verdict": "down"} if confident else None
    if confident and row.get("correct"):
        return {**rec, "verdict": "up"}
    evidence = row.get("evidence") or []
    if not evidence:
        return None
    blocks = [{"path": e["path"], "startLine": e["startLine"], "endLine": e["endLine"], "relevant": True} for e in evidence]
    return {**rec, "verdict": "down", "correctedAnswer": expected, "blocks": blocks}


def simulate(report_path: Path, out: Path) -> dict:
    """Writes the feedback file; returns how many records of each verdict it holds."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    counts = {"up": 0, "down": 0, "corrected": 0, "nothing to teach": 0}
    lines: list[str] = []
    for row in report.get("perQuestion", []):
        rec = _record(row, report_path.parent / str(row.get("context")) / "repo", when)
        if rec is None:
            counts["nothing to teach"] += 1
            continue
        counts[rec["verdict"]] += 1
        counts["corrected"] += "correctedAnswer" in rec
        lines.append(json.dumps(rec, ensure_ascii=False))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return counts
