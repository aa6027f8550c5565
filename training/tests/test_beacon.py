"""Latent memory (beacon states): the layout, end-to-end gradients, training with resume, and the
ONNX export computing the same beacon states and greedy answers as PyTorch."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engram_training import beacon as bc


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small tensors: one intra-op thread is far faster on a shared CPU (restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("beacon") / "tiny-beacon"
    ref = bc.build_tiny(out, train_steps=4)
    return out, ref


def test_interleave_puts_a_beacon_after_every_group():
    seq, pos = bc.interleave(list(range(10)), 4, 99)
    assert seq == [0, 1, 2, 3, 99, 4, 5, 6, 7, 99, 8, 9, 99]
    assert pos == [4, 9, 12]
    assert bc.interleave(list(range(8)), 4, 99)[1] == [4, 9]


def _tiny_model(ratio=4):
    cfg = bc.BeaconConfig(vocab_size=50, beacon_id=49, question_id=48, answer_id=47, eos_id=1, pad_id=0, ratio=ratio,
                          chunk_tokens=12, d_model=16, layers=2, heads=2, kv_heads=1, ffn=32, max_positions=64)
    return bc.build_model(cfg), cfg


def test_answer_loss_backpropagates_through_the_beacon_states():
    model, cfg = _tiny_model()
    g = torch.Generator().manual_seed(0)
    chunk = torch.randint(2, 40, (3, 12), generator=g)
    states = bc.chunk_states(model, chunk, "latent", cfg)
    assert states[0][0].shape == (3, 1, 3, 8)  # ceil(12 / 4) beacons
    assert bc.chunk_states(model, chunk, "raw", cfg)[0][0].shape[2] == 12
    assert bc.chunk_states(model, chunk, "text", cfg)[0][0].shape[2] == 3
    rows = [{"chunk": chunk[i].tolist(), "question": [5, 6, 7], "answer": [8 + i, 9]} for i in range(3)]
    _, ids, mask, labels = bc.batch_tensors(rows, cfg)
    hidden, _ = bc.read(model, states, ids, mask)
    at = labels != -100
    assert int(at.sum()) == 9  # two answer tokens and eos per row
    loss = torch.nn.functional.cross_entropy(model.lm_head(hidden[at]), labels[at])
    grads = torch.autograd.grad(loss, [states[0][0], states[1][1]])
    assert all(float(gr.abs().sum()) > 0 for gr in grads)


def test_train_resumes_and_eval_reports_every_form(tmp_path):
    model, cfg = _tiny_model()
    rows = [{"id": str(i), "kind": "toy", "chunk": [2 + (i + j) % 30 for j in range(12)], "question": [5, 6],
             "answer": [10 + i % 3], "answer_text": "x"} for i in range(8)]
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    first = bc.train(data, tmp_path / "run", cfg, steps=2, batch_size=4)
    again = bc.train(data, tmp_path / "run", cfg, steps=4, batch_size=4)
    assert (first["steps"], again["steps"]) == (2, 4)
    assert set(again["loss"]) == set(bc.FORMS)


def _ort_states(sess, ids, layers):
    """Beacon states from the exported graph: the interleaved chunk from an empty cache, sliced."""
    n = len(ids)
    inputs = {i.name: i for i in sess.get_inputs()}
    kvh, hd = inputs["past_key_values.0.key"].shape[1], inputs["past_key_values.0.key"].shape[3]
    feeds = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, n), np.int64),
             "position_ids": np.arange(n, dtype=np.int64)[None]}
    feeds |= {f"past_key_values.{i}.{kv}": np.zeros((1, kvh, 0, hd), np.float32) for i in range(layers) for kv in ("key", "value")}
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def test_export_matches_pytorch_states_and_greedy_answers(tiny):
    out, ref = tiny
    meta = json.loads((out / "beacon.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    layers = cfg["num_hidden_layers"]
    assert meta["ratio"] == ref["ratio"] == 4 and meta["token_id"] == ref["beacon_id"]
    sess = ort.InferenceSession(str(out / "onnx/model.onnx"))
    blocks = []
    for block in ref["blocks"]:
        seq, pos = bc.interleave(block["chunk_ids"], meta["ratio"], meta["token_id"])
        assert seq == block["interleaved"]
        res = _ort_states(sess, seq, layers)
        got = np.stack([np.stack([res[f"present.{i}.key"][0][:, pos], res[f"present.{i}.value"][0][:, pos]]) for i in range(layers)])
        want = np.array(block["states"]["data"], np.float32).reshape(block["states"]["dims"])
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-4)
        blocks.append(got)
    for case in ref["cases"]:
        prefix = np.concatenate([blocks[i] for i in case["blocks"]], axis=3)  # [layers, 2, kvh, m, hd]
        m = prefix.shape[3]
        feed_ids = [meta["question_id"], *case["question_ids"], meta["answer_id"]]
        past = {f"past_key_values.{i}.{kv}": prefix[i, j][None] for i in range(layers) for j, kv in enumerate(("key", "value"))}
        out_ids, pos = [], m
        for _ in range(len(case["greedy_ids"]) + 1):
            n = len(feed_ids)
            res = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {
                "input_ids": np.array([feed_ids], np.int64), "attention_mask": np.ones((1, pos + n), np.int64),
                "position_ids": np.arange(pos, pos + n, dtype=np.int64)[None], **past})))
            nxt = int(res["logits"][0, -1].argmax())
            if nxt == meta["eos_id"]:
                break
            out_ids.append(nxt)
            past = {k: res[k.replace("past_key_values.", "present.")] for k in past}
            pos, feed_ids = pos + n, [nxt]
        assert out_ids[: len(case["greedy_ids"])] == case["greedy_ids"]
