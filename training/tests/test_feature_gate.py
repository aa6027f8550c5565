"""Feature gate: features that mean what they say, a tiny run from a toy corpus to ONNX that
matches PyTorch, and the parity cases the TypeScript side checks kept current."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engram_training.feature_gate import FEATURES, build_data, evaluate, export, features, fixture, load_model, train
from engram_training.qa.__main__ import build_qa
from test_gate import _toy_corpus

ROOT = Path(__file__).resolve().parents[2]


def _f(question: str, memory: str, path: str, text: str, rank: int = 0) -> dict[str, float]:
    return dict(zip(FEATURES, features(question, memory, path, text, rank)))


def test_features_see_names_definitions_memory_and_words() -> None:
    q = "What is the value of the constant `RETRY_DELAY`?"
    defining = _f(q, "", "src/retry.ts", "export const RETRY_DELAY = 30;")
    using = _f(q, "", "src/net.ts", "wait(RETRY_DELAY * 2)")
    other = _f(q, "", "src/x.ts", "const RETRY_DELAY_MAX = 1;", rank=9)
    assert defining["defines_name"] == 1 and using["defines_name"] == 0
    assert defining["names_mentioned"] == using["names_mentioned"] == 1
    assert other["names_mentioned"] == 0, "a longer identifier is not the name"
    assert other["recall_rank"] == 0.1
    assert defining["term_coverage"] > 0, "the question's words 'value'/'constant' or the name's parts"
    hop = _f("Which function does `run` call?", "a.py:3: schedule_later(task)", "b.py", "def schedule_later(t):\n    pass")
    assert hop["has_memory_names"] == 1 and hop["memory_defines"] == 1
    assert _f(q, "", "CHANGELOG.md", "fix RETRY_DELAY")["prose"] == 1


def test_parity_fixture_is_current() -> None:
    committed = json.loads((ROOT / "test" / "fixtures" / "gate-features.json").read_text())
    assert committed == json.loads(json.dumps(fixture())), \
        "run: python -m engram_training.feature_gate fixture (then the node parity test checks TypeScript)"


def test_tiny_end_to_end_feature_gate_to_onnx(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, tmp_path / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000},
             log=lambda m: None)
    stats = build_data(corpus, tmp_path / "qa", tmp_path / "fg", log=lambda m: None)
    assert stats["train"]["positives"] > 0 and stats["test"]["candidates"] > 0
    run = tmp_path / "fg" / "run"
    info = train(tmp_path / "fg", run, hidden=8, epochs=3, log=lambda m: None)
    assert info["features"] == list(FEATURES)
    ev = evaluate(tmp_path / "fg", run)
    for ranker in ("gate", "bm25"):
        r = ev["test"][ranker]
        assert 0.0 <= r["recall@4"] <= r["recall@8"] <= r["recall@16"] <= 1.0
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": [{"name": "other", "role": "reasoner"}]}))
    export(run, models / "engram-gate", models / "manifest.json")
    x = np.array([features("Where is `helper_0_1_2` defined?", "", "pkg/m1.py", "def helper_0_1_2(v):", 0)], np.float32)
    with torch.no_grad():
        ref = load_model(run)(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(str(models / "engram-gate" / "onnx" / "model.onnx")).run(["logits"], {"features": x})[0]
    assert np.allclose(got, ref, atol=1e-5)
    cfg = json.loads((models / "engram-gate" / "config.json").read_text())
    assert cfg["model_type"] == "engram-feature-gate" and cfg["features"] == list(FEATURES)
    entry = json.loads((models / "manifest.json").read_text())["models"][1]
    assert entry["role"] == "gate" and {f["path"] for f in entry["files"]} >= {"onnx/model.onnx", "config.json", "README.md"}
