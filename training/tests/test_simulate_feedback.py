"""The simulated user: an eval report's answers become the engine's feedback records."""

from __future__ import annotations

import json
from pathlib import Path

from engram_training.__main__ import main
from engram_training.qa.feedback import read_feedback


def _row(qid: str, expected: str, answer: str, confidence: str, correct: bool, evidence: list[dict]) -> dict:
    cites = [{"path": "a.py", "startLine": 3, "endLine": 3}] if confidence != "none" else []
    return {"id": qid, "context": "ctx", "mode": "gated", "question": f"What is the value of the constant `{qid.upper()}`?",
            "expected": expected, "answer": answer, "confidence": confidence, "correct": correct,
            "citations": cites, "evidence": evidence}


def test_answers_become_thumbs_and_corrections(tmp_path: Path, capsys) -> None:
    ev = [{"path": "b.py", "startLine": 7, "endLine": 7}]
    rows = [
        _row("right", "3", "3", "answer", True, ev),
        _row("wrong", "3", "4", "answer", False, ev),
        _row("unsure", "3", "Not sure (low confidence): the closest evidence is a.py:3: X = 4", "evidence", False, ev),
        _row("ghost", "not found", "5", "answer", False, []),
        _row("absent", "not found", "Not found.", "none", True, []),
    ]
    report = tmp_path / "eval" / "report.json"
    report.parent.mkdir()
    report.write_text(json.dumps({"perQuestion": rows}))
    out = tmp_path / "feedback.jsonl"
    assert main(["simulate-feedback", str(report), "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == {"up": 1, "down": 3, "corrected": 2, "nothing to teach": 1}
    recs = {r["question"].split("`")[1].lower(): r for r in map(json.loads, out.read_text().splitlines())}
    assert set(recs) == {"right", "wrong", "unsure", "ghost"}
    assert recs["right"]["verdict"] == "up" and "correctedAnswer" not in recs["right"]
    for k in ("wrong", "unsure"):
        assert (recs[k]["verdict"], recs[k]["correctedAnswer"]) == ("down", "3")
        assert recs[k]["blocks"] == [{**ev[0], "relevant": True}]
    assert recs["ghost"]["verdict"] == "down" and "correctedAnswer" not in recs["ghost"]
    assert recs["right"]["repo"] == str((tmp_path / "eval" / "ctx" / "repo").resolve())
    # The engine's feedback reader takes every record.
    data = read_feedback([out])
    assert data.lines == 4 and data.skipped_total == 0
