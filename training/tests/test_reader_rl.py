"""Reader RL: rewards on hand-made windows, group advantages, train windows rebuilt from their
tokens, and a few GRPO steps from a tiny supervised run on the toy corpus of test_reader; the joint
compressor update: what the reader reads of a compressed window, its reward, and a few joint steps
whose compressor still exports to ONNX like PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engram_training import compressor
from engram_training.qa.__main__ import build_qa
from engram_training.reader import (Packed, ReaderConfig, ReaderEncoder, build_data, evaluate, load_model, span_text,
                                    span_tokens, train)
from engram_training.reader_rl import (Action, Compressed, Episode, JointConfig, RewardWeights, RLConfig,
                                       compressor_inputs, episode_from_packed, group_advantages, joint_reward,
                                       mean_reward, reward, rl_step, train_rl)

from engram_training.reader_publish import publish_reader
from test_reader import _tokenizer, _toy_corpus


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("rl")
    corpus = root / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, root / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000}, log=lambda m: None)
    tok = _tokenizer(root, corpus) / "tokenizer.json"
    data = root / "reader"
    build_data(corpus, root / "qa", tok, data, log=lambda m: None)
    run = data / "sft"
    cfg = ReaderConfig(vocab_size=600, d_model=32, layers=1, heads=2, ff=64, max_len=512, dropout=0.0)
    train(data, run, cfg, budget_s=300, epochs=0.5, batch_size=16, device="cpu", log=lambda m: None, tokenizer=tok)
    cdata = root / "compressor"
    compressor.build_data(corpus, root / "qa", cdata, tok)
    crun = cdata / "run"
    ccfg = compressor.CompressorConfig(vocab_size=600, d_model=32, layers=1, heads=2, ff=64, dropout=0.0)
    compressor.train(cdata, crun, ccfg, budget_s=120, epochs=0.5, batch_size=8, device="cpu", log=lambda m: None)
    compressor.evaluate(cdata, crun)  # eval.json: the keep threshold the joint run starts from
    return {"data": data, "tok": tok, "run": run, "enc": ReaderEncoder(tok), "cdata": cdata, "crun": crun}


def _episode(enc: ReaderEncoder, target: str | None) -> Episode:
    w = enc.windows(enc.prefix("What is the value of the constant `LIMIT`?", "", "p.py"), ["a = 1", "LIMIT = 42", "b = 2"], 10)[0]
    per_line = [sum(1 for ln in w.line_of if ln == k) for k in range(3)]
    return Episode(w, target, (1, 1) if target else None, frozenset({1}) if target else frozenset(), per_line)


def test_rewards_on_hand_made_windows(toy: dict) -> None:
    wt = RewardWeights(answer=1.0, not_here=1.0, cite=0.5, token_cost=0.2)
    ep = _episode(toy["enc"], "42")
    w = ep.window
    total = sum(ep.line_tokens)
    right = span_tokens(w, 1, 8, 10)
    wrong = span_tokens(w, 1, 0, 5)  # "LIMIT"
    assert right and wrong
    exact = reward(ep, Action(right, frozenset({1})), wt)
    assert exact["answer"] == 1.0 and exact["cite"] == 0.5
    assert exact["cost"] == pytest.approx(0.2 * ep.line_tokens[1] / total)
    assert exact["total"] == pytest.approx(1.5 - exact["cost"])
    # partial line overlap: evidence {1}, kept {0, 1} -> IoU 1/2, and more tokens paid for
    partial = reward(ep, Action(right, frozenset({0, 1})), wt)
    assert partial["cite"] == pytest.approx(0.25)
    assert partial["cost"] == pytest.approx(0.2 * (ep.line_tokens[0] + ep.line_tokens[1]) / total)
    # the wrong span, or "not here", earns no answer reward; keeping nothing costs nothing
    assert reward(ep, Action(wrong, frozenset({1})), wt)["answer"] == 0.0
    none = reward(ep, Action(None, frozenset()), wt)
    assert none == {"total": 0.0, "answer": 0.0, "cite": 0.0, "cost": 0.0}
    # a piece of the number is widened to the whole word, as decode_window answers
    assert reward(ep, Action((right[0], right[0]), frozenset()), wt)["answer"] == 1.0
    # negatives: "not here" earns not_here; with no evidence lines keeping nothing is a perfect citation
    neg = _episode(toy["enc"], None)
    assert reward(neg, Action(None, frozenset()), wt)["total"] == pytest.approx(1.5)
    answered = reward(neg, Action(right, frozenset({2})), wt)
    assert answered["answer"] == 0.0 and answered["cite"] == 0.0 and answered["cost"] > 0
    heavy = RewardWeights(token_cost=1.0)
    all_lines = reward(ep, Action(right, frozenset({0, 1, 2})), heavy)
    assert all_lines["cost"] == pytest.approx(1.0)


def test_group_advantages_are_zero_mean() -> None:
    r = torch.tensor([[1.0, 0.0, 0.5, 1.5], [0.2, 0.2, 0.2, 0.2], [3.0, -1.0, 0.0, 0.0]])
    a = group_advantages(r)
    assert torch.allclose(a.mean(1), torch.zeros(3), atol=1e-6)
    assert torch.allclose(a[[0, 2]].std(1, unbiased=False), torch.ones(2), atol=1e-4)
    assert torch.equal(a[1], torch.zeros(4))  # a group with one outcome teaches nothing
    assert a[0].argmax() == 3 and a[0].argmin() == 1


def test_train_windows_rebuilt_from_their_tokens(toy: dict) -> None:
    enc: ReaderEncoder = toy["enc"]
    ds = Packed(toy["data"] / "train.npz")
    wt = RewardWeights()
    pos = [i for i in range(len(ds)) if ds.start[i] >= 0][:20]
    assert pos
    whole = 0
    for i in pos + [i for i in range(len(ds)) if ds.start[i] < 0][:5]:
        ep = episode_from_packed(enc, ds, i)
        w = ep.window
        for k, line in enumerate(w.lines):  # each line's text encodes back to its own tokens
            toks = [t for t, (ln, s) in enumerate(zip(w.line_of, w.spanable)) if ln == k and s]
            assert enc.line(line)[0] == [w.ids[t] for t in toks]
        gold = (int(ds.start[i]), int(ds.end[i])) if ds.start[i] >= 0 else None
        r = reward(ep, Action(gold, ep.evidence), wt)
        assert r["cite"] == wt.cite
        if gold is None:
            assert r["answer"] == wt.not_here
            continue
        assert ep.target and ep.target in w.lines[ep.answer_lines[0]]
        # a label of whole words earns the answer reward (the toy corpus also labels the "1" inside
        # `helper_1_2_1`, which the evaluation's whole-word answer can never match)
        if span_text(w, *gold, whole_words=True) == span_text(w, *gold):
            whole += 1
            assert r["answer"] == wt.answer
    assert whole >= len(pos) // 2


def test_rl_steps_raise_the_reward_and_keep_the_run_loadable(toy: dict, tmp_path: Path) -> None:
    enc, data = toy["enc"], toy["data"]
    ds = Packed(data / "train.npz")
    pos = [i for i in range(len(ds)) if ds.start[i] >= 0][:4]
    neg = [i for i in range(len(ds)) if ds.start[i] < 0][:4]
    batch = [episode_from_packed(enc, ds, i) for i in pos + neg]
    wt = RewardWeights()
    model = load_model(toy["run"])
    before_w = {k: v.clone() for k, v in model.state_dict().items()}
    before = mean_reward(model, batch, wt, group=64, seed=1)["sampled"]["total"]
    cfg = RLConfig(group=8, windows=len(batch), lr=3e-3, updates=2, kl_coef=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    for _ in range(10):
        st = rl_step(model, None, opt, batch, cfg, wt, gen, torch.device("cpu"))
        assert np.isfinite(st["loss"])
    after = mean_reward(model, batch, wt, group=64, seed=1)["sampled"]["total"]
    assert after > before + 0.05, (before, after)
    assert any(not torch.equal(before_w[k], v) for k, v in model.state_dict().items())

    # the command's run: resumable, and reader eval reads it unchanged
    out = tmp_path / "rl"
    cfg = RLConfig(steps=2, group=4, windows=4, eval_rows=16, kl_coef=0.01)
    info = train_rl(data, out, toy["run"], cfg, wt, budget_s=300, device="cpu", tokenizer=toy["tok"], log=lambda m: None)
    assert info["steps"] == 2 and (out / "model.pt").exists()
    info = train_rl(data, out, toy["run"], RLConfig(**{**cfg.__dict__, "steps": 3}), wt, budget_s=300, device="cpu",
                    tokenizer=toy["tok"], log=lambda m: None)
    assert info["steps"] == 3 and info["validation_reward"]["before"]["windows"] == 16
    loaded = load_model(out)
    assert any(not torch.equal(loaded.state_dict()[k], v) for k, v in load_model(toy["run"]).state_dict().items())
    res = evaluate(data, out, toy["tok"], device="cpu", limit=20)
    assert 0 <= res["validation"]["overall_em"] <= 1
    assert json.loads((out / "train.json").read_text())["config"]["d_model"] == 32
    # and it exports like a supervised run, its card saying how it was trained
    models = tmp_path / "models"
    publish_reader(data, out, models / "reader-0.0.2", toy["tok"].parent, models / "manifest.json", "0.0.2", eval_limit=20)
    card = (models / "reader-0.0.2" / "README.md").read_text()
    assert "GRPO" in card and "3 steps of 4 windows × 4 samples" in card and "KL coefficient 0.01" in card
    with pytest.raises(SystemExit):  # other settings never train on this checkpoint
        train_rl(data, out, toy["run"], RLConfig(**{**cfg.__dict__, "lr": 1.0}), wt, device="cpu", tokenizer=toy["tok"],
                 log=lambda m: None)


def _view(enc: ReaderEncoder, ep: Episode, keep_line: set[int] | None) -> Compressed:
    """The compressed window keeping every token of the given window lines (None: all)."""
    w = ep.window
    pos = np.array([t for t, ok in enumerate(w.spanable) if ok])
    keep = np.array([keep_line is None or w.line_of[t] in keep_line for t in pos])
    return Compressed(enc, ep, pos, keep)


def test_the_reader_reads_what_the_compressor_kept_and_cites_source_lines(toy: dict) -> None:
    enc: ReaderEncoder = toy["enc"]
    wt = RewardWeights(answer=1.0, not_here=1.0, cite=0.5, token_cost=0.2, read_cost=0.3)
    ep = _episode(enc, "42")
    full, one, none = _view(enc, ep, None), _view(enc, ep, {1}), _view(enc, ep, set())
    assert full.window.lines == ep.window.lines and full.orig == [0, 1, 2] and full.kept_tokens == full.block_tokens
    assert one.window.lines == ["LIMIT = 42"] and one.orig == [1]  # the `N|` anchor of the kept line
    assert none.window.lines == [] and none.kept_tokens == 0
    prefix = lambda w: [i for i, ln in zip(w.ids, w.line_of) if ln < 0]  # noqa: E731 (question, memory, path)
    assert prefix(one.window) == prefix(none.window) == prefix(ep.window)
    # the span on compressed line 0 answers, and keeping that line cites source line 1
    s, e = span_tokens(one.window, 0, 8, 10)
    r = joint_reward(ep, one, span_text(one.window, s, e, whole_words=True), frozenset({0}), wt)
    n = one.block_tokens
    assert r["answer"] == 1.0 and r["cite"] == 0.5 and r["kept"] == pytest.approx(one.kept_tokens / n)
    assert r["cost"] == pytest.approx((0.2 * one.kept_tokens + 0.3 * one.kept_tokens) / n)
    assert r["total"] == pytest.approx(1.5 - r["cost"])
    # with every token kept the joint reward is the reader-only reward, the token cost aside
    s, e = span_tokens(full.window, 1, 8, 10)
    j = joint_reward(ep, full, span_text(full.window, s, e, whole_words=True), frozenset({1}), wt)
    plain = reward(ep, Action((s, e), frozenset({1})), wt)
    assert (j["answer"], j["cite"]) == (plain["answer"], plain["cite"]) == (1.0, 0.5)
    # the same choice costs less the fewer tokens were kept; nothing kept costs nothing
    costs = [joint_reward(ep, v, None, frozenset(), wt)["cost"] for v in (full, _view(enc, ep, {0, 1}), one, none)]
    assert costs[0] > costs[1] > costs[2] > costs[3] == 0.0
    # a dropped answer line cannot be answered: "not here" on a window that holds the answer earns nothing
    assert joint_reward(ep, _view(enc, ep, {0, 2}), None, frozenset(), wt)["answer"] == 0.0


def test_compressor_inputs_follow_the_contract(toy: dict) -> None:
    enc: ReaderEncoder = toy["enc"]
    ds = Packed(toy["data"] / "train.npz")
    for i in range(0, len(ds), max(1, len(ds) // 15)):
        w = episode_from_packed(enc, ds, i).window
        ins = compressor_inputs(w, enc.sp["<block>"])
        assert [ids for ids, _ in ins] == [x.ids for x in compressor.chunk_windows(enc, w.lines, 0)]
        for ids, pos in ins:
            assert pos[0] == -1 and [w.ids[t] for t in pos[1:]] == ids[1:]


def test_joint_steps_update_reader_and_compressor_which_still_exports(toy: dict, tmp_path: Path) -> None:
    data, crun = toy["data"], toy["crun"]
    out = tmp_path / "joint"
    cfg = RLConfig(steps=2, group=4, windows=4, eval_rows=8, lr=1e-3, kl_coef=0.01)
    wt = RewardWeights()
    joint = JointConfig(crun, lr=1e-3)
    info = train_rl(data, out, toy["run"], cfg, wt, budget_s=300, device="cpu", tokenizer=toy["tok"], log=lambda m: None,
                    joint=joint)
    assert info["steps"] == 2 and info["joint"]["threshold"] == json.loads((crun / "eval.json").read_text())["keep_threshold"]
    for when in ("before", "after"):
        v = info["validation_reward"][when]
        for kind in ("sampled", "greedy"):
            assert 0 <= v[kind]["kept"] <= 1 and v[kind]["cost"] >= 0
    # both policies moved
    assert any(not torch.equal(load_model(out).state_dict()[k], v) for k, v in load_model(toy["run"]).state_dict().items())
    new_c = compressor.load_model(out / "compressor")
    assert any(not torch.equal(new_c.state_dict()[k], v) for k, v in compressor.load_model(crun).state_dict().items())
    # resumes both from the checkpoint
    info = train_rl(data, out, toy["run"], RLConfig(**{**cfg.__dict__, "steps": 3}), wt, budget_s=300, device="cpu",
                    tokenizer=toy["tok"], log=lambda m: None, joint=joint)
    assert info["steps"] == 3
    # the compressor run exports as compressor.train's would, with the keep rule RL used, and ONNX matches PyTorch
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": []}))
    res = compressor.publish(toy["cdata"], out / "compressor", models / "engram-compressor-0.0.2", toy["tok"].parent,
                             models / "manifest.json", "0.0.2")
    assert max(res["parity"]["fp32"].values()) < 1e-4
    conf = json.loads((models / "engram-compressor-0.0.2" / "config.json").read_text())
    assert conf["keep_threshold"] == pytest.approx(info["joint"]["threshold"], abs=1e-4)
    assert "jointly with the extractive reader" in (models / "engram-compressor-0.0.2" / "README.md").read_text()
