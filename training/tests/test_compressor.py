"""Learned compressor: keep labels on a hand-made chunk, the text form, and a tiny run from a toy
corpus through training, evaluation and ONNX export that follows the contract and matches PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from engram_training.compressor import (
    CompressorConfig, build_data, compressor_config, chunk_windows, evaluate, label_window, load_model, signature_lines,
                                        line_scores, publish, question_ids, text_form, train)
from engram_training.publish import sha256_file
from engram_training.qa.__main__ import build_qa
from engram_training.reader import DEFAULT_TOKENIZER, ReaderEncoder
from test_reader import _tokenizer, _toy_corpus

CHUNK = [
    "MAX_RETRIES = 5",
    "# just a helpful comment about the things below",
    "def fetch_page(url, timeout=30):",
    "    data = download(url)",
    "    return data",
    "}",
]


def _kept(w, keep) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for t in range(len(w.ids)):
        k = w.line_of[t]
        if k >= 0 and w.spanable[t] and keep[t] == 1:
            out.setdefault(w.start_line + k, []).append(w.lines[k].encode()[w.b0[t]:w.b1[t]].decode().strip())
    return out


def test_labels_keep_definitions_evidence_and_constants_and_drop_filler() -> None:
    enc = ReaderEncoder(DEFAULT_TOKENIZER)
    w = chunk_windows(enc, CHUNK, 10)[0]
    assert w.ids[0] == enc.sp["<block>"] and w.lines == CHUNK and w.start_line == 10
    keep, ev, ans = label_window(w, {13}, {13: [(4, 8)]}, {"download"})
    kept = _kept(w, keep)
    text = {ln: "".join(p) for ln, p in kept.items()}
    assert text[10] == "MAX_RETRIES5"  # constant name and literal, not `=`
    assert 11 not in kept  # comment filler
    assert text[12] == "fetch_pageurltimeout30"  # definition name, parameters, default; not `def`, `(`, `):`
    assert text[13] == "datadownloadurl"  # evidence line: every word token, no punctuation
    assert 14 not in kept and 15 not in kept  # plain body line and the closing brace
    assert all(keep[t] == -1 for t in range(len(w.ids)) if not w.spanable[t])  # <block> and newlines are not labelled
    on13 = [t for t in range(len(w.ids)) if w.line_of[t] == 3 and w.spanable[t]]
    assert all(ev[t] == 1 for t in on13) and ev.sum() == len(on13)
    assert [w.lines[3].encode()[w.b0[t]:w.b1[t]].decode().strip() for t in range(len(w.ids)) if ans[t]] == ["data"]
    # referenced names are kept on other lines too
    keep2, _, _ = label_window(w, set(), {}, {"download", "data"})
    assert "".join(_kept(w, keep2)[13]) == "datadownload"
    # text form: `N| ` and the kept tokens, a single space where tokens were dropped
    assert text_form(w, keep.astype(np.float32), 0.5).split("\n") == [
        "10| MAX_RETRIES 5", "12| fetch_page url timeout 30", "13| data download url"]
    # whole-line rule: every word token of a definition or literal-valued constant line, names elsewhere not
    keep3, _, _ = label_window(w, set(), {}, {"download", "data"}, "lines")
    text3 = {ln: "".join(p) for ln, p in _kept(w, keep3).items()}
    assert text3 == {10: "MAX_RETRIES5", 12: "deffetch_pageurltimeout30"}
    # keep unit "line": a line is kept whole (trimmed, punctuation and all) when its best token reaches the threshold
    assert text_form(w, keep3.astype(np.float32), 0.5, "line").split("\n") == [
        f"10| {CHUNK[0].strip()}", f"12| {CHUNK[2].strip()}"]
    scores = line_scores(np.array(w.ids), keep3.astype(np.float32), keep3 >= 0, enc.nl)
    on12 = [t for t in range(len(w.ids)) if w.line_of[t] == 2 and w.spanable[t]]
    assert all(scores[t] == 1 for t in on12) and all(scores[t] == 0 for t in range(len(w.ids)) if w.line_of[t] == 1 and w.spanable[t])
    q = question_ids(enc, "Where is `fetch_page` defined?")
    assert q[0] == enc.sp["<question>"] and len(q) > 3
    # a long chunk becomes windows of whole lines of at most 256 tokens
    many = [f"value_{i} = compute(value_{i - 1}, {i}, 'some text here')" for i in range(120)]
    ws = chunk_windows(enc, many, 1)
    assert len(ws) > 1 and all(len(x.ids) <= 256 and x.ids[0] == enc.sp["<block>"] for x in ws)
    assert [l for x in ws for l in x.lines] == many


def test_signature_lines_are_a_heads_continuation_and_its_first_doc_line() -> None:
    lines = [
        "/**",
        " * Retries a failing call.",
        " */",
        "export function withRetry(",
        "  call: () => Promise<void>,",
        "  attempts = 3,",
        ") {",
        "  return call();",
        "}",
        "def load(path,",
        "         encoding='utf-8'):",
        '    """',
        "    Read a file as text.",
        '    """',
        "    return open(path).read()",
    ]
    # The JSDoc's worded line, the TS head's continuation, the Python head's continuation and its docstring's line.
    assert signature_lines(lines) == {1, 4, 5, 6, 10, 12}


def test_tiny_train_and_export_follow_the_contract(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, tmp_path / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000}, log=lambda m: None)
    tok = _tokenizer(tmp_path, corpus)
    data = tmp_path / "cmp"
    stats = build_data(corpus, tmp_path / "qa", data, tok / "tokenizer.json")
    assert stats["train"]["questions"] > 0 and 0 < stats["train"]["keep_label_rate"] < 1
    run = data / "run"
    cfg = CompressorConfig(vocab_size=600, d_model=32, layers=1, heads=2, ff=64, dropout=0.0)
    info = train(data, run, cfg, budget_s=120, epochs=0.5, batch_size=8, device="cpu", log=lambda m: None)
    assert info["steps"] >= 1
    info2 = train(data, run, cfg, budget_s=240, epochs=1.0, batch_size=8, device="cpu", log=lambda m: None)
    assert info2["steps"] > info["steps"]  # resumed, not restarted
    ev = evaluate(data, run)
    assert 2.5 < ev["validation"]["compression_ratio"] < 6  # about a quarter kept on validation
    r = ev["test"]["recall"]
    assert 0 <= r["embedding"]["recall@4"] <= r["embedding"]["recall@16"] <= 1 and r["bm25"]["questions"] > 0
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": [{"name": "engram-reader", "role": "reasoner"}]}))
    out = models / "engram-compressor-0.0.1"
    res = publish(data, run, out, tok, models / "manifest.json", "0.0.1")
    assert max(res["parity"]["fp32"].values()) < 1e-4
    conf = json.loads((out / "config.json").read_text())
    for key in ("model_type", "vocab_size", "d_model", "layers", "heads", "max_len", "line_max_tokens", "dim",
                "special_tokens", "newline_token", "keep_threshold", "outputs"):
        assert key in conf
    assert conf["model_type"] == "engram-compressor" and conf["outputs"] == ["keep_logits", "embedding"]
    assert conf["max_len"] == 256 and conf["line_max_tokens"] == 64 and conf["dim"] == 64
    assert set(conf["special_tokens"]) == {"<s>", "<question>", "<block>"}
    assert (conf["keep_unit"], conf["recall_vector"], conf["force_keep"]) == ("token", "model", "none")
    lines = compressor_config(load_model(run), 0.5, tok / "tokenizer.json", "line", "hashing", "literals")
    assert (lines["keep_unit"], lines["recall_vector"], lines["force_keep"]) == ("line", "hashing", "literals")
    # ONNX reads a real chunk window like PyTorch; the embedding has unit length
    enc = ReaderEncoder(tok / "tokenizer.json")
    text = (corpus / "repos" / "pypi__rtoy0@1" / "pkg" / "m0.py").read_text().split("\n")[:30]
    w = chunk_windows(enc, text, 1)[0]
    ids = np.array([w.ids, w.ids[:40] + [0] * (len(w.ids) - 40)], dtype=np.int64)
    mask = (np.arange(len(w.ids))[None, :] < np.array([[len(w.ids)], [40]])).astype(np.int64)
    for f in ("model.onnx", "model_quantized.onnx"):
        sess = ort.InferenceSession(str(out / "onnx" / f), providers=["CPUExecutionProvider"])
        assert [o.name for o in sess.get_outputs()] == ["keep_logits", "embedding"]
        keep, emb = sess.run(None, {"input_ids": ids, "attention_mask": mask})
        assert keep.shape == ids.shape and emb.shape == (2, 64)
        assert np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-3)
    with torch.no_grad():
        rk, re_ = load_model(run)(torch.from_numpy(ids), torch.from_numpy(mask))
    sess = ort.InferenceSession(str(out / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    keep, emb = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    assert np.abs(keep[mask == 1] - rk.numpy()[mask == 1]).max() < 1e-4 and np.abs(emb - re_.numpy()).max() < 1e-4
    entry = json.loads((models / "manifest.json").read_text())["models"][-1]
    assert entry["name"] == "engram-compressor" and entry["role"] == "compressor" and entry["path"] == out.name
    files = {f["path"]: f for f in entry["files"]}
    assert {"onnx/model.onnx", "onnx/model_quantized.onnx", "config.json", "tokenizer.json", "tokenizer_config.json",
            "README.md"} <= set(files)
    assert files["onnx/model.onnx"]["sha256"] == sha256_file(out / "onnx" / "model.onnx")
