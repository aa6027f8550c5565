"""Reader RL: rewards on hand-made windows, group advantages, train windows rebuilt from their
tokens, and a few GRPO steps from a tiny supervised run on the toy corpus of test_reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engram_training.qa.__main__ import build_qa
from engram_training.reader import (Packed, ReaderConfig, ReaderEncoder, build_data, evaluate, load_model, span_text,
                                    span_tokens, train)
from engram_training.reader_rl import (Action, Episode, RewardWeights, RLConfig, episode_from_packed, group_advantages,
                                       mean_reward, reward, rl_step, train_rl)

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
    return {"data": data, "tok": tok, "run": run, "enc": ReaderEncoder(tok)}


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
    with pytest.raises(SystemExit):  # other settings never train on this checkpoint
        train_rl(data, out, toy["run"], RLConfig(**{**cfg.__dict__, "lr": 1.0}), wt, device="cpu", tokenizer=toy["tok"],
                 log=lambda m: None)
