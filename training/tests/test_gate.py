"""Gate: blocks, BM25, and a tiny end-to-end run from a toy corpus to ONNX that matches PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engram_training.blocks import BM25, chunk_file
from engram_training.corpus import RepoRecord
from engram_training.gate import Encoder, GateConfig, build_data, evaluate, load_model, train
from engram_training.publish import publish_gate, sha256_file
from engram_training.qa.__main__ import build_qa
from engram_training.tokenizer import save, train_tokenizer


def test_chunks_cover_every_line_once_at_definition_boundaries() -> None:
    text = "".join(f"def f{i}(x):\n" + "    y = x + 1\n" * 30 + "    return y\n\n" for i in range(6))
    blocks = chunk_file("m.py", text, max_tokens=300)
    covered = [n for b in blocks for n in range(b.start, b.end + 1)]
    assert covered == sorted(set(covered))
    assert len(blocks) > 1
    lines = text.split("\n")
    assert all(lines[b.start - 1].startswith("def ") for b in blocks)
    for b in blocks:
        assert b.text == "\n".join(lines[b.start - 1:b.end])


def test_bm25_prefers_the_block_with_rare_query_terms() -> None:
    docs = ["def parse_url(s): return s", "def other(): pass", "x = parse(1)"]
    s = BM25(docs).scores("Where is parseUrl defined? parse_url")
    assert int(np.argmax(s)) == 0


def _toy_corpus(root: Path) -> None:
    recs = []
    for r, split in enumerate(["train", "train", "train", "validation", "test"]):
        rid = f"pypi__toy{r}@1"
        base = root / "repos" / rid / "pkg"
        base.mkdir(parents=True)
        for f in range(4):
            body = [f'LIMIT_{r}_{f} = {r * 10 + f}\n']
            for k in range(12):
                nxt = f"helper_{r}_{(f + 1) % 4}_{k}"
                body.append(f'\n\ndef helper_{r}_{f}_{k}(value, scale={k}):\n'
                            f'    """Scale the value by factor {k} for stage {f} of toy {r}, then pass it on."""\n'
                            f'    return {nxt}(value * scale)\n')
            (base / f"m{f}.py").write_text("".join(body))
        recs.append(RepoRecord(id=rid, registry="pypi", name=f"toy{r}", version="1", license="MIT",
                               archive_url="", sha256="", bytes=0, split=split, main_language="python").__dict__)
    (root / "manifest.json").write_text(json.dumps({"repos": recs}))


def test_tiny_end_to_end_gate_to_onnx(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, tmp_path / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000},
             log=lambda m: None)
    texts = [p.read_text() for p in (corpus / "repos").rglob("*.py")]
    tok = train_tokenizer(texts, vocab_size=600, min_frequency=1)
    save(tok, tmp_path / "tok")
    stats = build_data(corpus, tmp_path / "qa", tmp_path / "tok" / "tokenizer.json", tmp_path / "gate",
                       log=lambda m: None)
    assert stats["train"]["positives"] > 0 and stats["train"]["examples"] > stats["train"]["positives"]
    assert stats["test"]["examples"] > 0
    run = tmp_path / "gate" / "run"
    cfg = GateConfig(vocab_size=tok.get_vocab_size(), d_model=32, layers=1, heads=2, ff=64, max_len=512)
    info = train(tmp_path / "gate", run, cfg, budget_s=60, epochs=0.1, batch_size=16, device="cpu",
                 log=lambda m: None)
    assert info["steps"] >= 1 and (run / "ckpt.pt").exists()
    # Resuming continues from the checkpoint instead of starting over.
    info2 = train(tmp_path / "gate", run, cfg, budget_s=60, epochs=0.2, batch_size=16, device="cpu",
                  log=lambda m: None)
    assert info2["steps"] > info["steps"]
    ev = evaluate(tmp_path / "gate", run, device="cpu")
    for ranker in ("gate", "bm25"):
        r = ev["test"][ranker]
        assert 0.0 <= r["recall@4"] <= r["recall@8"] <= r["recall@16"] <= 1.0
    models = tmp_path / "models"
    (models / "manifest.json").parent.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": [{"name": "other", "role": "reasoner"}]}))
    publish_gate(run, models / "engram-gate", tmp_path / "tok", models / "manifest.json")
    # ONNX output equals PyTorch on a real encoded input.
    enc = Encoder(tmp_path / "tok" / "tokenizer.json")
    ids = np.array([enc.encode("Where is the function `helper_0_1_2` defined?", "", "def helper_0_1_2(v):")])
    mask = np.ones_like(ids)
    with torch.no_grad():
        ref = load_model(run)(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    sess = ort.InferenceSession(str(models / "engram-gate" / "onnx" / "model.onnx"))
    got = sess.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
    assert np.allclose(got, ref, atol=1e-4)
    manifest = json.loads((models / "manifest.json").read_text())
    assert [m["name"] for m in manifest["models"]] == ["other", "engram-gate"]
    entry = manifest["models"][1]
    files = {f["path"]: f for f in entry["files"]}
    assert {"onnx/model.onnx", "onnx/model_quantized.onnx", "config.json", "tokenizer.json", "README.md"} <= set(files)
    assert files["onnx/model.onnx"]["sha256"] == sha256_file(models / "engram-gate" / "onnx" / "model.onnx")
    assert entry["role"] == "gate" and "recall@8" in entry["eval"]["test"]["gate"]
