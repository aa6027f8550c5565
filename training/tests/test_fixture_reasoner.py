"""The fixture reasoner's ONNX export computes what the PyTorch model computes."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engram_training import fixture_reasoner as fr


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "tiny-reasoner"
    ref = fr.build(out, train_steps=20, greedy_steps=4)
    return out, ref


def _past(cfg, batch=1, length=0):
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    shape = (batch, cfg["num_key_value_heads"], length, head_dim)
    return {
        f"past_key_values.{i}.{kv}": np.zeros(shape, np.float32)
        for i in range(cfg["num_hidden_layers"])
        for kv in ("key", "value")
    }


def test_layout(built):
    out, _ = built
    for name in ("config.json", "generation_config.json", "tokenizer.json", "onnx/model.onnx",
                 "onnx/model_quantized.onnx", "nopast/onnx/model.onnx", "reference.json"):
        assert (out / name).is_file(), name
    sess = ort.InferenceSession(str(out / "onnx/model.onnx"))
    names = [i.name for i in sess.get_inputs()]
    assert names[:3] == ["input_ids", "attention_mask", "position_ids"]
    assert "past_key_values.1.value" in names
    assert [o.name for o in sess.get_outputs()][:2] == ["logits", "present.0.key"]


def test_prefill_and_decode_match_pytorch(built):
    out, ref = built
    cfg = json.loads((out / "config.json").read_text())
    sess = ort.InferenceSession(str(out / "onnx/model.onnx"))
    nopast = ort.InferenceSession(str(out / "nopast/onnx/model.onnx"))
    for case in ref["cases"]:
        ids = np.array([case["input_ids"]], np.int64)
        n = ids.shape[1]
        want = np.array(case["logits"], np.float32)
        # Prefill with an empty past.
        feeds = {"input_ids": ids, "attention_mask": np.ones((1, n), np.int64),
                 "position_ids": np.arange(n, dtype=np.int64)[None], **_past(cfg)}
        res = sess.run(None, feeds)
        np.testing.assert_allclose(res[0][0], want, atol=1e-4)
        # No-past graph.
        res0 = nopast.run(None, {k: feeds[k] for k in ("input_ids", "attention_mask", "position_ids")})
        np.testing.assert_allclose(res0[0][0], want, atol=1e-4)
        # Prefill all but the last token, then one decode step through the cache.
        feeds = {"input_ids": ids[:, :-1], "attention_mask": np.ones((1, n - 1), np.int64),
                 "position_ids": np.arange(n - 1, dtype=np.int64)[None], **_past(cfg)}
        res = sess.run(None, feeds)
        present = dict(zip([o.name for o in sess.get_outputs()][1:], res[1:]))
        step = {"input_ids": ids[:, -1:], "attention_mask": np.ones((1, n), np.int64),
                "position_ids": np.array([[n - 1]], np.int64)}
        for name, value in present.items():
            step[name.replace("present.", "past_key_values.")] = value
        last = sess.run(None, step)[0][0, -1]
        np.testing.assert_allclose(last, want[-1], atol=1e-4)


def test_reference_greedy_is_argmax(built):
    out, ref = built
    case = ref["cases"][0]
    logits = np.array(case["logits"])
    assert int(logits[-1].argmax()) == case["greedy_ids"][0]
    assert torch.__version__.startswith("2.13")
