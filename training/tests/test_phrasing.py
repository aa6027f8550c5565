"""Questions reworded in plain words for `eval --phrasing natural`."""

from __future__ import annotations

import random

from engram_training.evaluate import _aggregate, _phrasing_table
import pytest

from engram_training.qa.phrasing import HELDOUT, HELDOUT2, TEMPLATES, Template, reword

from test_qa import _questions


@pytest.mark.parametrize("wordings", [TEMPLATES, HELDOUT, HELDOUT2], ids=["natural", "heldout", "heldout2"])
def test_every_kind_has_a_plain_word_form_that_keeps_its_answer_and_evidence(wordings: dict[str, tuple[Template, ...]]) -> None:
    assert set(wordings) == set(TEMPLATES)
    rng = random.Random(0)
    qs = _questions()
    reworded = {q["id"]: r for q in qs if (r := reword(q, rng, wordings)) is not None}
    kinds = {q["kind"] for q in qs if q["id"] in reworded}
    assert kinds == {"definition", "constant", "param_default", "call_chain", "describe", "unanswerable"}
    for q in qs:
        r = reworded.get(q["id"])
        if r is None:
            # Only two-hop chains have no plain-word form here.
            assert q["kind"] == "call_chain" and "third file" in q["question"], q["question"]
            continue
        assert "`" not in r["question"] and r["question"] != q["question"]
        assert r["evidence"] == q["evidence"] and r["kind"] == q["kind"] and r["id"] == q["id"]
        assert r["phrasing"] in {tid for tid, _ in wordings[_base(q)]}
        if q["kind"] == "describe":
            # Turned around: the name is asked about, the description's first words are the answer.
            assert q["answer"] in r["question"] and r["answer"] and r["answer"].split()[0] in q["question"]
        else:
            assert r["answer"] == q["answer"]


def test_rewording_is_reproducible_and_names_methods_with_their_class() -> None:
    qs = _questions()
    first = [reword(q, random.Random(3)) for q in qs]
    assert first == [reword(q, random.Random(3)) for q in qs]
    q = {"kind": "definition", "question": "Where is the method `close` of the class `Pool` defined?", "answer": "a.py", "evidence": []}
    r = reword(q, random.Random(0))
    assert r is not None and "Pool.close" in r["question"]
    assert reword({"kind": "definition", "question": "Is this a question?", "answer": "x", "evidence": []}, random.Random(0)) is None


def test_the_report_gives_accuracy_by_wording() -> None:
    rows = [{"kind": "constant", "phrasing": "set-to", "correct": True, "exact": True, "evidence": [], "citations": [], "ms": 10},
            {"kind": "constant", "phrasing": "set-to", "correct": False, "exact": False, "evidence": [], "citations": [], "ms": 10},
            {"kind": "constant", "phrasing": "ctl-eq", "correct": False, "exact": False, "evidence": [], "citations": [], "ms": 10}]
    for r, conf in zip(rows, ["answer", "answer", "evidence"]):
        r["confidence"] = conf
    agg = _aggregate(rows, [], 0.0)
    assert agg["byPhrasing"] == {"ctl-eq": {"n": 1, "accuracy": 0.0}, "set-to": {"n": 2, "accuracy": 0.5}}
    # One of three answered wrongly as if sure: the stated-but-wrong answer, not the evidence.
    assert agg["confidentRate"] == round(2 / 3, 4) and agg["confidentWrongRate"] == round(1 / 3, 4)
    table = _phrasing_table({"perQuestion": rows})
    assert "| constant/set-to | 2 | 0.50 | 0.50 |" in table and "| constant/ctl-eq | 1 | 0.00 | 0.00 |" in table


def _base(q: dict) -> str:
    if q["kind"] != "unanswerable":
        return q["kind"]
    return "definition" if q["question"].startswith("Where") else "constant"
