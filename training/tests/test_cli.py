"""`python -m engram_training`: every stage in order on a toy corpus, skipping what is complete,
resuming training; and `eval` through the real engine CLI on a toy context."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engram_training.__main__ import main
from engram_training.compressor import load_model as load_compressor
from engram_training.evaluate import engine_missing, pick_questions
from engram_training.pipeline import REPO_ROOT
from engram_training.qa.__main__ import build_qa
from engram_training.qa.generate import KINDS
from test_gate import _toy_corpus



def _shipped_reader() -> Path:
    """The reader that models/manifest.json ships (whatever its version)."""
    manifest = json.loads((REPO_ROOT / "models" / "manifest.json").read_text())
    return REPO_ROOT / "models" / next(m["path"] for m in manifest["models"] if m["name"] == "engram-reader")


def _run(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[list[dict], str]:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    return json.loads(out.strip().splitlines()[-1]), err


def test_all_tiny_runs_every_stage_then_skips_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data, models = tmp_path / "data", tmp_path / "models"
    _toy_corpus(data / "corpus")
    # The engine stage needs the built CLI; without it the rest of the pipeline is still checked.
    skip = "corpus" if engine_missing() is None else "corpus,eval"
    argv = ["all", "--budget", "tiny", "--data", str(data), "--models", str(models),
            "--parity", str(tmp_path / "parity.json"), "--skip", skip]
    first, _ = _run(capsys, argv)
    ran = [r["step"] for r in first if r["status"] == "ran"]
    assert ran[:6] == ["qa", "tokenizer", "compressor-data", "compressor-train", "compressor-eval", "compressor-export"]
    assert ran[6:13] == ["gate-data", "gate-train", "gate-eval", "feature-gate-data", "feature-gate-train",
                         "feature-gate-eval", "gate-export"]
    assert ran[13:17] == ["reader-data", "reader-train", "reader-eval", "reader-export"]
    assert (models / "engram-tokenizer" / "tokenizer.json").exists() and (tmp_path / "parity.json").exists()
    assert "recall@8" in json.loads((data / "gate" / "run" / "eval.json").read_text())["test"]["gate"]
    assert (models / "reader-0.2.0" / "onnx" / "model.onnx").exists()
    manifest = json.loads((models / "manifest.json").read_text())
    assert "engram-reader" in [m["name"] for m in manifest["models"]]
    # No compressor was shipped here, so auto exports it; its ONNX outputs match PyTorch.
    cmp_dir = models / "engram-compressor-0.1.0"
    assert {"name": "engram-compressor", "role": "compressor", "path": cmp_dir.name}.items() <= \
        next(m for m in manifest["models"] if m["name"] == "engram-compressor").items()
    ids = np.array([[6] + list(range(20, 80)), [6] + list(range(90, 120)) + [0] * 30], dtype=np.int64)
    mask = (ids > 0).astype(np.int64)
    with torch.no_grad():
        want = [x.numpy() for x in load_compressor(data / "compressor" / "run")(torch.from_numpy(ids), torch.from_numpy(mask))]
    got = ort.InferenceSession(str(cmp_dir / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        ["keep_logits", "embedding"], {"input_ids": ids, "attention_mask": mask})
    assert np.abs(got[0][mask == 1] - want[0][mask == 1]).max() < 1e-4 and np.abs(got[1] - want[1]).max() < 1e-4
    if "eval" in ran:
        report = json.loads((data / "eval" / "report.json").read_text())
        assert {r["mode"] for r in report["summary"]} == {"gated", "memagent"}
        assert report["model"] == str((models / "reader-0.2.0").resolve())
    markers = {p.name: p.read_text() for p in (data / "stages").glob("*.json")}
    assert set(ran) == {n[:-5] for n in markers}

    # A second run finds every step complete and changes nothing.
    second, _ = _run(capsys, argv)
    assert [r["status"] for r in second if r["step"] != "corpus"] == ["skipped"] * (len(second) - 1)
    assert markers == {p.name: p.read_text() for p in (data / "stages").glob("*.json")}

    # auto never writes over a shipped compressor: the same model is not better than itself.
    onnx_bytes = (cmp_dir / "onnx" / "model.onnx").read_bytes()
    (data / "stages" / "compressor-export.json").unlink()
    _, err = _run(capsys, ["compressor", *argv[1:-2]])
    assert "compressor not exported" in err and (cmp_dir / "onnx" / "model.onnx").read_bytes() == onnx_bytes
    assert sorted(x.name for x in models.glob("engram-compressor-*")) == [cmp_dir.name]
    _, err = _run(capsys, ["compressor", *argv[1:-2], "--compressor-export", "never"])
    assert "--compressor-export never" in err and not (data / "stages" / "compressor-export.json").read_text().count('"exported": true')
    _run(capsys, ["compressor", *argv[1:-2], "--compressor-export", "always", "--compressor-version", "0.0.9"])
    entry = next(m for m in json.loads((models / "manifest.json").read_text())["models"] if m["name"] == "engram-compressor")
    assert entry["version"] == "0.0.9" and (models / "engram-compressor-0.0.9" / "onnx" / "model.onnx").exists()

    # Training interrupted before it was marked complete resumes from its checkpoint, and only
    # what depends on it runs again.
    steps = json.loads((data / "reader" / "run" / "train.json").read_text())["steps"]
    (data / "stages" / "reader-train.json").unlink()
    third, err = _run(capsys, ["reader", *argv[1:-2]])
    status = {r["step"]: r["status"] for r in third}
    assert status == {"reader-data": "skipped", "reader-train": "ran", "reader-eval": "ran", "reader-export": "ran"}
    assert f"resumed at step {steps}" in err


def test_eval_runs_the_engine_on_each_context(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    why = engine_missing()
    if why:
        pytest.skip(f"needs the built engine CLI (npm test builds it before pytest): {why}")
    corpus, qa, out = tmp_path / "corpus", tmp_path / "qa", tmp_path / "eval"
    _toy_corpus(corpus)
    build_qa(corpus, qa, splits=("test",), per_kind=4, eval_sizes={"1k": 1000}, log=lambda m: None)
    argv = ["eval", "--model", str(_shipped_reader()), "--sizes", "1k", "--per-size", "5", "--corpus", str(corpus),
            "--qa", str(qa), "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert [(r["size"], r["mode"], r["questions"]) for r in report["summary"]] == [("1k", "gated", 5), ("1k", "memagent", 5)]
    asked = {q["id"]: q for q in map(json.loads, (qa / "test" / "qa.jsonl").read_text().splitlines())}
    for row in report["perQuestion"]:
        q = asked[row["id"]]
        assert (row["expected"], row["kind"]) == (q["answer"], q["kind"])
        assert row["ms"] > 0 and isinstance(row["correct"], bool)
        for c in row["citations"]:  # citations point into the materialized context
            assert (out / row["context"] / "repo" / c["path"]).exists()
    for r in report["summary"]:
        assert sum(k["n"] for k in r["byKind"].values()) == 5 and 0 <= r["accuracy"] <= 1
        assert r["secondsPerQuestion"] > 0
        assert 0 < r["evidenceKept"] <= 1 and 0 < r["blockWordsKept"] <= 1
    # The context folder holds exactly the context's files, linked to the corpus.
    ctx_id = report["perQuestion"][0]["context"]
    ctx = next(c for c in map(json.loads, (qa / "test" / "contexts.jsonl").read_text().splitlines()) if c["id"] == ctx_id)
    repo = out / ctx_id / "repo"
    assert sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()) == sorted(ctx["files"])
    f = ctx["files"][0]
    assert os.stat(repo / f).st_ino == os.stat(corpus / "repos" / ctx["repo"] / f).st_ino
    md = (out / "report.md").read_text()
    assert md in stdout and "| 1k | gated | 5 |" in md and "| 1k | memagent | 5 |" in md
    assert "compressor the engine's default" in md and "evidence kept in text form" in md
    assert "using the structural" not in (out / ctx_id / "engine.log").read_text()  # the default: the shipped model
    # Another compressor indexes and answers: the same questions, its own text form.
    rules = tmp_path / "eval-rules"
    assert main([*argv[:-1], str(rules), "--modes", "gated", "--compressor", "structural"]) == 0
    again = json.loads((rules / "report.json").read_text())
    assert again["settings"]["compressor"] == "structural"
    assert [q["id"] for q in again["perQuestion"]] == [q["id"] for q in report["perQuestion"] if q["mode"] == "gated"]
    log = (rules / ctx_id / "engine.log").read_text()
    assert "index --repo" in log and "--compressor structural" in log
    assert "compressor structural" in (rules / "report.md").read_text()
    with pytest.raises(SystemExit, match="no model"):
        main([*argv[:2], str(tmp_path / "nowhere"), *argv[3:]])


def test_questions_are_balanced_by_kind_and_spread_over_contexts() -> None:
    qs = [{"id": f"{c}{k}{i}", "kind": k, "context": c} for c in "ab" for k in KINDS[:3] for i in range(4)]
    qs += [{"id": "lone", "kind": "unanswerable", "context": "a"}]
    got = pick_questions(qs, 8, seed=0)
    kinds = [q["kind"] for q in got]
    assert kinds.count("unanswerable") == 1 and all(kinds.count(k) in (2, 3) for k in KINDS[:3])
    for k in KINDS[:3]:
        assert {q["context"] for q in got if q["kind"] == k} == {"a", "b"}
    assert pick_questions(qs, 8, seed=0) == got and len(pick_questions(qs, 100, seed=0)) == len(qs)
