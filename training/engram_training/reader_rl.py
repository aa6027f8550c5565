"""End-to-end RL for the extractive reader from one reward: a group-relative policy gradient
(GRPO without a critic, as in DeepSeekMath and MemAgent) with DAPO's asymmetric clipping,
started from a supervised run (engram_training/reader.py).

The policy is the reader's discrete choices on one window:
  - "not here" ~ Bernoulli(sigmoid(no-answer logit));
  - otherwise the span: start ~ softmax of the start logits over spanable tokens, end ~ softmax
    of the end logits over tokens on the start's line, start <= end < start + MAX_SPAN;
  - the kept lines (the working memory and the citations): one Bernoulli per line from the
    line's mean keep logit, pooled as decode_window pools them.
Reward per sample (weights in RewardWeights, all command-line options):
  answer  x [span text and lines match the label, normalised as the evaluation compares them]
            on windows that hold the answer, not_here x ["not here"] on windows that do not;
  + cite  x IoU(kept lines, evidence lines)  (evidence lines = the keep labels; both empty = 1);
  - token_cost x kept tokens / the window's block tokens.
Each window gets G samples; advantages are (r - mean) / (std + eps) within the group; the loss
is the clipped surrogate per decision (no-answer, start, end, each line) against the policy
that sampled, summed over a sample's decisions and divided by the number of samples (a constant
normaliser, as Dr. GRPO), plus an optional k3 KL to the supervised reference.

Train windows come from Packed train.npz: each window's line texts are rebuilt from its tokens'
bytes, so the answer is compared as text exactly as `reader eval` compares it. Validation rows
(validation.jsonl) give the before/after mean reward.

    python -m engram_training.reader_rl train --data .data/reader2 --init RUN --out RUN_RL --steps 200 --group 8 --budget-s 180
    python -m engram_training.reader_rl reward --data .data/reader2 --run RUN [--rows 128]

The run directory has the layout of reader.train (train.json + model.pt), so `reader eval` and
`reader export` read it unchanged.

With `--joint-compressor RUN` the learned compressor (compressor.py) is trained jointly: per
sample it keeps or drops each line token (Bernoulli(sigmoid(keep_logit - keep_threshold))), the
reader reads the text form of what was kept (compressor.text_form, re-tokenized; its lines cite
the source through their `N|` anchors), the token cost is on kept tokens (read_cost: read by the
reader; token_cost: on the lines it keeps), and the one group-relative advantage of each sample
updates both policies, each decision with its own DAPO-clipped ratio (joint_step). The updated
compressor is written to OUT/compressor in compressor.train's layout.

    python -m engram_training.reader_rl train --data .data/reader2 --init RUN --out RUN_RL --joint-compressor .data/compressor/run
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .reader import (DEFAULT_TOKENIZER, F_BLOCK, F_KEEP, F_SPAN, MAX_SPAN, Packed, ReaderEncoder, ReaderModel, Window,
                     decode_window, eval_windows, load_model, normalize, span_text)
from .compressor import MAX_LEN as CMP_MAX_LEN
from .compressor import CompressorModel, text_form
from .compressor import load_model as load_compressor
from .runs import load_jsonl, pick_device


@dataclass
class RewardWeights:
    answer: float = 1.0  # exact answer on a window that holds it
    not_here: float = 1.0  # "not here" on a window that does not
    cite: float = 0.5  # x IoU of kept lines with the evidence lines
    token_cost: float = 0.2  # x kept tokens / window block tokens
    read_cost: float = 0.2  # joint compressor only: x tokens the compressor kept (what the reader reads) / block tokens


@dataclass
class RLConfig:
    steps: int = 200
    group: int = 8  # samples per window
    windows: int = 8  # windows per step
    lr: float = 3e-5
    updates: int = 2  # gradient steps on each batch of samples (the ratio departs from 1 after the first)
    clip_low: float = 0.2
    clip_high: float = 0.28  # DAPO's clip-higher
    kl_coef: float = 0.01  # k3 KL to the supervised reference; 0 skips the reference model
    eps: float = 1e-6
    seed: int = 0
    eval_rows: int = 128  # validation rows for the before/after reward


@dataclass
class Episode:
    """One window with what the reward needs: the normalised answer text and its window lines
    (None: the answer is not in this window), the evidence lines, block tokens per line."""
    window: Window
    target: str | None
    answer_lines: tuple[int, int] | None
    evidence: frozenset[int]
    line_tokens: list[int]


@dataclass
class Action:
    span: tuple[int, int] | None  # None = "not here"
    kept: frozenset[int]


def _line_tokens(w: Window) -> list[int]:
    n = [0] * len(w.lines)
    for ln in w.line_of:
        if 0 <= ln < len(n):
            n[ln] += 1
    return n


def episode_from_row(enc: ReaderEncoder, row: dict) -> Episode:
    """A validation/test row (reader data format) as an episode."""
    w = eval_windows(enc, [row])[0]
    s0 = row["startLine"]
    lines = (row["answerLines"][0] - s0, row["answerLines"][1] - s0) if row["target"] else None
    return Episode(w, normalize(row["targetText"]) if row["target"] else None, lines,
                   frozenset(k - s0 for k in row["keepLines"]), _line_tokens(w))


def episode_from_packed(enc: ReaderEncoder, ds: Packed, i: int) -> Episode:
    """A train window from its ids and flags; line texts are the bytes of the line's tokens
    (a line is its spanable tokens, then a non-spanable newline token)."""
    a, b = int(ds.offsets[i]), int(ds.offsets[i + 1])
    ids = [int(x) for x in ds.ids[a:b]]
    fl = [int(x) for x in ds.flags[a:b]]
    line_of, b0, b1, sp = [], [], [], []
    raw: list[bytearray] = []
    evidence: set[int] = set()
    cur, off = 0, 0
    for t, f in zip(ids, fl):
        if not f & F_BLOCK:
            line_of.append(-1), b0.append(0), b1.append(0), sp.append(False)
            continue
        if len(raw) <= cur:
            raw.append(bytearray())
        if f & F_KEEP:
            evidence.add(cur)
        line_of.append(cur)
        b0.append(off)
        if f & F_SPAN:
            piece = bytes(enc.bytes_of[ch] for ch in (enc.tok.id_to_token(t) or "") if ch in enc.bytes_of)
            raw[cur] += piece
            off += len(piece)
            b1.append(off)
            sp.append(True)
        else:  # end of line
            b1.append(off)
            sp.append(False)
            cur, off = cur + 1, 0
    # a line cut at LINE_MAX tokens may end inside a character: drop that tail, keep offsets valid
    lines = [bytes(r).decode("utf-8", "ignore") for r in raw]
    w = Window(ids, line_of, b0, b1, sp, lines, 0)
    st, en = int(ds.start[i]), int(ds.end[i])
    target = lines_at = None
    if st >= 0:
        text, l0, l1 = span_text(w, st, en)
        target, lines_at = normalize(text), (l0, l1)
    return Episode(w, target, lines_at, frozenset(evidence), _line_tokens(w))


def _answer_right(ep: Episode, text: str, l0: int, l1: int) -> bool:
    """The evaluation's rule (reader.score_rows): same normalised text on the same lines."""
    return ep.target is not None and normalize(text) == ep.target and (l0, l1) == ep.answer_lines


def reward(ep: Episode, act: Action, wt: RewardWeights, answer: tuple[str, int, int] | None = None) -> dict[str, float]:
    """{"total", "answer", "cite", "cost"} of one action; `answer` (text, first and last window
    line) replaces the span's text when the caller decoded it already."""
    if act.span is not None and answer is None:
        answer = span_text(ep.window, *act.span, whole_words=True)  # widened to whole words, as decode_window
    if ep.target is None:
        ans = wt.not_here if act.span is None else 0.0
    else:
        ans = wt.answer if act.span is not None and answer is not None and _answer_right(ep, *answer) else 0.0
    union = act.kept | ep.evidence
    iou = len(act.kept & ep.evidence) / len(union) if union else 1.0
    total_tokens = max(1, sum(ep.line_tokens))
    cost = wt.token_cost * sum(ep.line_tokens[k] for k in act.kept if k < len(ep.line_tokens)) / total_tokens
    cite = wt.cite * iou
    return {"total": ans + cite - cost, "answer": ans, "cite": cite, "cost": cost}


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """[windows, G] rewards -> (r - group mean) / (group std + eps)."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return (rewards - mean) / (std + eps)


# ---------------------------------------------------------------- the policy on one window


class WindowPolicy:
    """The distributions of one window from the model's logits (first n tokens)."""

    def __init__(self, ep: Episode, start: torch.Tensor, end: torch.Tensor, keep: torch.Tensor, na: torch.Tensor) -> None:
        w = ep.window
        n = len(w.ids)
        dev = start.device
        self.sp = torch.tensor(w.spanable, dtype=torch.bool, device=dev)
        self.line = torch.tensor(w.line_of, dtype=torch.long, device=dev)
        self.can_answer = bool(self.sp.any())
        self.start_lp = torch.log_softmax(start[:n].float().masked_fill(~self.sp, -math.inf), -1) if self.can_answer else None
        self.end = end[:n].float()
        n_lines = len(w.lines)
        onehot = (self.line[None, :] == torch.arange(n_lines, device=dev)[:, None]).float()
        self.keep_z = (onehot @ keep[:n].float()) / onehot.sum(1).clamp(min=1.0)  # [L], mean per line
        self.na = na.float()

    def _end_lp(self, s: torch.Tensor) -> torch.Tensor:
        """[k] starts -> [k, n] log-probs of the end given each start."""
        idx = torch.arange(self.end.shape[0], device=s.device)
        ok = (self.sp[None] & (self.line[None] == self.line[s][:, None]) & (idx[None] >= s[:, None])
              & (idx[None] < s[:, None] + MAX_SPAN))
        return torch.log_softmax(self.end[None].expand(len(s), -1).masked_fill(~ok, -math.inf), -1)

    def sample(self, g: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        dev = self.na.device
        p_na = torch.sigmoid(self.na).expand(g) if self.can_answer else torch.ones(g, device=dev)
        not_here = torch.rand(g, generator=gen, device=dev) < p_na
        s = e = torch.zeros(g, dtype=torch.long, device=dev)
        if self.can_answer:
            s = torch.multinomial(self.start_lp.exp().expand(g, -1), 1, generator=gen).squeeze(1)
            e = torch.multinomial(self._end_lp(s).exp(), 1, generator=gen).squeeze(1)
        kept = torch.rand(g, self.keep_z.shape[0], generator=gen, device=dev) < torch.sigmoid(self.keep_z)[None]
        return {"not_here": not_here, "s": s, "e": e, "kept": kept}

    def log_probs(self, a: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-decision log-probs [g, 3 + L] and which decisions were taken (mask)."""
        g = a["s"].shape[0]
        dev = self.na.device
        nh = a["not_here"]
        lp_na = torch.where(nh, F.logsigmoid(self.na), F.logsigmoid(-self.na)).expand(g)
        lp_s = torch.zeros(g, device=dev)
        lp_e = torch.zeros(g, device=dev)
        if self.can_answer:
            lp_s = self.start_lp[a["s"]]
            lp_e = self._end_lp(a["s"]).gather(1, a["e"][:, None]).squeeze(1)
            lp_s, lp_e = torch.where(nh, 0.0, lp_s), torch.where(nh, 0.0, lp_e)
        lp_k = torch.where(a["kept"], F.logsigmoid(self.keep_z)[None], F.logsigmoid(-self.keep_z)[None])
        lp = torch.cat([lp_na[:, None], lp_s[:, None], lp_e[:, None], lp_k], 1)
        mask = torch.ones_like(lp, dtype=torch.bool)
        mask[:, 0] = self.can_answer
        mask[:, 1] = mask[:, 2] = ~nh
        return lp, mask


def _actions(a: dict[str, torch.Tensor]) -> list[Action]:
    out = []
    for r in range(a["s"].shape[0]):
        span = None if bool(a["not_here"][r]) else (int(a["s"][r]), int(a["e"][r]))
        out.append(Action(span, frozenset(int(k) for k in torch.nonzero(a["kept"][r]).flatten())))
    return out


def _forward(model: ReaderModel, eps: list[Episode], dev: torch.device):
    t = max(len(e.window.ids) for e in eps)
    ids = torch.zeros(len(eps), t, dtype=torch.long)
    mask = torch.zeros(len(eps), t, dtype=torch.long)
    for r, e in enumerate(eps):
        ids[r, :len(e.window.ids)] = torch.tensor(e.window.ids)
        mask[r, :len(e.window.ids)] = 1
    return model(ids.to(dev), mask.to(dev))


def _policies(model: ReaderModel, eps: list[Episode], dev: torch.device) -> list[WindowPolicy]:
    st, en, kp, na = _forward(model, eps, dev)
    return [WindowPolicy(e, st[r], en[r], kp[r], na[r]) for r, e in enumerate(eps)]


@torch.no_grad()
def mean_reward(model: ReaderModel, eps: list[Episode], wt: RewardWeights, group: int = 8, seed: int = 0,
                device: str = "cpu", batch: int = 16) -> dict:
    """Mean reward of G sampled actions per window, and of the greedy decision (decode_window's
    span when P(no answer) < 0.5, lines whose keep probability is >= 0.5)."""
    dev = pick_device(device)
    model.eval()
    gen = torch.Generator(device=dev).manual_seed(seed)
    sampled: list[dict[str, float]] = []
    greedy: list[dict[str, float]] = []
    for k in range(0, len(eps), batch):
        chunk = eps[k:k + batch]
        st, en, kp, na = _forward(model, chunk, dev)
        for r, ep in enumerate(chunk):
            pol = WindowPolicy(ep, st[r], en[r], kp[r], na[r])
            sampled += [reward(ep, a, wt) for a in _actions(pol.sample(group, gen))]
            n = len(ep.window.ids)
            d = decode_window(ep.window, *(x[r, :n].float().cpu().numpy() for x in (st, en, kp)), float(na[r]))
            a = d["answer"] if d["answer"] is not None and d["noAnswer"] < 0.5 else None
            s0 = ep.window.start_line
            act = Action(None if a is None else (-1, -1), frozenset(ln - s0 for ln, p in d["keep"].items() if p >= 0.5))
            greedy.append(reward(ep, act, wt, None if a is None else (a["text"], a["startLine"] - s0, a["endLine"] - s0)))
    avg = lambda rs: {k: round(float(np.mean([r[k] for r in rs])), 4) for k in rs[0]} if rs else {}  # noqa: E731
    return {"windows": len(eps), "group": group, "sampled": avg(sampled), "greedy": avg(greedy)}


# ---------------------------------------------------------------- training


class Surrogate:
    """DAPO's clipped surrogate summed over decisions (each its own ratio against the policy that
    sampled, clipped to [1 - clip_low, 1 + clip_high]), plus the k3 KL to a reference per decision."""

    def __init__(self, cfg: RLConfig, dev: torch.device) -> None:
        self.cfg = cfg
        self.loss = torch.zeros((), device=dev)
        self.kl = torch.zeros((), device=dev)
        self.clipped = self.decisions = 0

    def add(self, lp: torch.Tensor, old: torch.Tensor, mask: torch.Tensor, adv: torch.Tensor,
            ref: torch.Tensor | None) -> None:
        c, m = self.cfg, mask.float()
        ratio = torch.exp((lp - old).masked_fill(~mask, 0.0))
        surr = torch.minimum(ratio * adv, ratio.clamp(1 - c.clip_low, 1 + c.clip_high) * adv)
        self.loss = self.loss - (surr * m).sum()
        self.clipped += int((((ratio < 1 - c.clip_low) | (ratio > 1 + c.clip_high)) & mask).sum())
        self.decisions += int(mask.sum())
        if ref is not None:
            d = (ref - lp).masked_fill(~mask, 0.0)
            self.kl = self.kl + ((torch.exp(d) - d - 1) * m).sum()

    def step(self, models: list[tuple[torch.nn.Module, torch.optim.Optimizer]], n_samples: int) -> dict:
        """One gradient step of every (model, optimizer) on this loss / the number of samples."""
        _gradient_step(models, (self.loss + self.cfg.kl_coef * self.kl) / n_samples)
        return self.stats(n_samples)

    def stats(self, n_samples: int, prefix: str = "") -> dict:
        return {prefix + "loss": float(self.loss.detach()) / n_samples, prefix + "kl": float(self.kl.detach()) / n_samples,
                prefix + "clipped": self.clipped / max(1, self.decisions)}


def _gradient_step(models: list[tuple[torch.nn.Module, torch.optim.Optimizer]], loss: torch.Tensor) -> None:
    """One backward pass, then each model's gradient norm clipped to 1 and its own optimizer stepped."""
    for _, opt in models:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for model, opt in models:
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


def rl_step(model: ReaderModel, ref: ReaderModel | None, opt: torch.optim.Optimizer, eps: list[Episode],
            cfg: RLConfig, wt: RewardWeights, gen: torch.Generator, dev: torch.device) -> dict:
    """Sample G actions per window with the current policy, score them, and take cfg.updates
    clipped policy-gradient steps on them."""
    model.eval()  # no dropout: the ratio compares the same function before and after the update
    with torch.no_grad():
        pols = _policies(model, eps, dev)
        acts = [p.sample(cfg.group, gen) for p in pols]
        old = [p.log_probs(a)[0] for p, a in zip(pols, acts)]
        refs = [p.log_probs(a)[0] for p, a in zip(_policies(ref, eps, dev), acts)] if ref is not None else None
    parts = [[reward(ep, x, wt) for x in _actions(a)] for ep, a in zip(eps, acts)]
    r = torch.tensor([[p["total"] for p in ps] for ps in parts], device=dev)
    adv = group_advantages(r, cfg.eps)
    n_samples = len(eps) * cfg.group
    stats = {"loss": 0.0, "kl": 0.0, "clipped": 0.0}
    for _ in range(cfg.updates):
        pols = _policies(model, eps, dev)
        sur = Surrogate(cfg, dev)
        for i, (p, a) in enumerate(zip(pols, acts)):
            lp, mask = p.log_probs(a)
            sur.add(lp, old[i], mask, adv[i][:, None], refs[i] if refs is not None else None)
        stats = sur.step([(model, opt)], n_samples)
    mean = lambda k: float(np.mean([x[k] for ps in parts for x in ps]))  # noqa: E731
    return {"reward": mean("total"), "answer": mean("answer"), "cite": mean("cite"), "cost": mean("cost"),
            "flat_groups": int((r.std(1) == 0).sum()), **stats}


# ---------------------------------------------------------------- the joint compressor update


@dataclass
class JointConfig:
    """`--joint-compressor RUN`: the learned compressor (a compressor.train run) chooses per token
    what the reader reads, and the same group-relative advantage trains it."""
    run: Path
    threshold: float | None = None  # keep = keep_logit >= threshold; None: RUN/train.json, eval.json, else the card's
    lr: float = 1e-4


class Compressed:
    """What the reader reads of one window after the compressor's keep/drop choices: the contract's
    text form (per line with a kept token, the kept tokens' text, a space where tokens were dropped:
    compressor.text_form), as a reader window, with `orig[k]` the window line of compressed line k
    (its `N|` anchor), so spans and kept lines cite the source lines."""

    def __init__(self, enc: ReaderEncoder, ep: Episode, pos: np.ndarray, keep: np.ndarray) -> None:
        w = ep.window
        mark = np.zeros(len(w.ids), dtype=np.float32)
        mark[pos[keep]] = 1.0
        rows = [r.partition("| ") for r in text_form(w, mark, 0.5).split("\n") if r]
        self.orig = [int(n) - w.start_line for n, _, _ in rows]
        prefix = [i for i, ln in zip(w.ids, w.line_of) if ln < 0]  # question, memory and path come first
        self.window = enc.windows(prefix, [t for _, _, t in rows], 0, max_len=1 << 30)[0]
        line = np.array(w.line_of)[pos]
        self.kept_per_line = np.bincount(line[keep], minlength=len(w.lines)).tolist()
        self.kept_tokens = int(keep.sum())
        self.block_tokens = len(pos)


def compressor_inputs(w: Window, block_id: int, max_len: int = CMP_MAX_LEN) -> list[tuple[list[int], list[int]]]:
    """The compressor's windows over a reader window's lines, from the reader's own token ids (the
    contract's form: `<block>`, each line tokenized alone then the newline token, whole lines up to
    max_len), each with the reader-window position of every token (-1 for `<block>`)."""
    lines: dict[int, list[int]] = {}
    for t, ln in enumerate(w.line_of):
        if ln >= 0:
            lines.setdefault(ln, []).append(t)
    out: list[tuple[list[int], list[int]]] = []
    cur: list[int] = []
    for k in sorted(lines):
        if cur and len(cur) + len(lines[k]) > max_len - 1:
            out.append(([block_id] + [w.ids[t] for t in cur], [-1] + cur))
            cur = []
        cur += lines[k]
    out.append(([block_id] + [w.ids[t] for t in cur][:max_len - 1], [-1] + cur[:max_len - 1]))
    return out


class CompressorBatch:
    """Every compressor window of a batch of episodes in one padded batch, and where each episode's
    keep decisions (its spanable tokens, in window order) sit in the output."""

    def __init__(self, eps: list[Episode], block_id: int, dev: torch.device) -> None:
        seqs, self.rows, self.cols, self.pos = [], [], [], []
        for ep in eps:
            sp = ep.window.spanable
            r, c, pos = [], [], []
            for ids, where in compressor_inputs(ep.window, block_id):
                for j, t in enumerate(where):
                    if t >= 0 and sp[t]:
                        r.append(len(seqs)), c.append(j), pos.append(t)
                seqs.append(ids)
            self.rows.append(torch.tensor(r, dtype=torch.long, device=dev))
            self.cols.append(torch.tensor(c, dtype=torch.long, device=dev))
            self.pos.append(np.array(pos, dtype=np.int64))
        t = max(len(x) for x in seqs)
        self.ids = torch.zeros(len(seqs), t, dtype=torch.long, device=dev)
        self.mask = torch.zeros(len(seqs), t, dtype=torch.long, device=dev)
        for i, x in enumerate(seqs):
            self.ids[i, :len(x)] = torch.tensor(x, device=dev)
            self.mask[i, :len(x)] = 1

    def logits(self, comp: CompressorModel, threshold: float) -> list[torch.Tensor]:
        """Per episode, keep logit - threshold of each decision: P(keep) = sigmoid of it."""
        keep, _ = comp(self.ids, self.mask)
        return [keep[r, c].float() - threshold for r, c in zip(self.rows, self.cols)]


def _bernoulli_lp(z: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    return torch.where(keep, F.logsigmoid(z), F.logsigmoid(-z))


def joint_reward(ep: Episode, view: Compressed, span: tuple[str, int, int] | None, kept: frozenset[int],
                 wt: RewardWeights) -> dict[str, float]:
    """The reward of the reader's action on the compressed window (span text and compressed lines),
    scored on the source lines its anchors name; the token cost is on kept tokens: those the reader
    read (read_cost) and those of the lines it keeps in its memory (token_cost), each over the
    window's block tokens. "kept" is the share of block tokens the compressor kept."""
    lines = frozenset(view.orig[k] for k in kept if k < len(view.orig))
    answer = None if span is None else (span[0], view.orig[span[1]], view.orig[span[2]])
    r = reward(ep, Action(None if span is None else (-1, -1), lines), wt, answer)
    n = max(1, view.block_tokens)
    cost = (wt.token_cost * sum(view.kept_per_line[k] for k in lines) + wt.read_cost * view.kept_tokens) / n
    return {"total": r["answer"] + r["cite"] - cost, "answer": r["answer"], "cite": r["cite"], "cost": cost,
            "kept": view.kept_tokens / n}


def _joint_sample_reward(ep: Episode, view: Compressed, act: Action, wt: RewardWeights) -> dict[str, float]:
    span = None if act.span is None else span_text(view.window, *act.span, whole_words=True)
    return joint_reward(ep, view, span, act.kept, wt)


def _view_episode(view: Compressed) -> Episode:
    """The compressed window as the reader's input (the policy reads only `.window`)."""
    return Episode(view.window, None, None, frozenset(), [])


def _forward_views(model: ReaderModel, views: list[Compressed], dev: torch.device, batch: int = 32) -> list[WindowPolicy]:
    out: list[WindowPolicy] = []
    for k in range(0, len(views), batch):
        out += _policies(model, [_view_episode(v) for v in views[k:k + batch]], dev)
    return out


@dataclass
class JointModels:
    comp: CompressorModel
    ref: CompressorModel | None
    opt: torch.optim.Optimizer
    threshold: float
    block_id: int


def joint_step(model: ReaderModel, ref: ReaderModel | None, opt: torch.optim.Optimizer, jm: JointModels,
               enc: ReaderEncoder, eps: list[Episode], cfg: RLConfig, wt: RewardWeights, gen: torch.Generator,
               dev: torch.device) -> dict:
    """Per window G samples: the compressor's keep/drop per token (Bernoulli), then the reader's
    action on what was kept; one group-relative advantage per sample updates both policies (the
    compressor's log-prob of its mask, the reader's of its action), each decision clipped as DAPO."""
    model.eval()
    jm.comp.eval()
    g = cfg.group
    cb = CompressorBatch(eps, jm.block_id, dev)
    with torch.no_grad():
        zs = cb.logits(jm.comp, jm.threshold)
        masks = [torch.rand(g, len(z), generator=gen, device=dev) < torch.sigmoid(z)[None] for z in zs]
        old_c = [_bernoulli_lp(z[None], m) for z, m in zip(zs, masks)]
        ref_c = ([_bernoulli_lp(z[None], m) for z, m in zip(cb.logits(jm.ref, jm.threshold), masks)]
                 if jm.ref is not None else None)
        views = [Compressed(enc, ep, cb.pos[i], masks[i][k].cpu().numpy()) for i, ep in enumerate(eps) for k in range(g)]
        pols = _forward_views(model, views, dev)
        acts = [p.sample(1, gen) for p in pols]
        old_r = [p.log_probs(a)[0] for p, a in zip(pols, acts)]
        ref_r = [p.log_probs(a)[0] for p, a in zip(_forward_views(ref, views, dev), acts)] if ref is not None else None
    parts = [[_joint_sample_reward(ep, views[i * g + k], _actions(acts[i * g + k])[0], wt) for k in range(g)]
             for i, ep in enumerate(eps)]
    r = torch.tensor([[p["total"] for p in ps] for ps in parts], device=dev)
    adv = group_advantages(r, cfg.eps)
    stats: dict = {}
    for _ in range(cfg.updates):
        zs = cb.logits(jm.comp, jm.threshold)
        pols = _forward_views(model, views, dev)
        reader, comp = Surrogate(cfg, dev), Surrogate(cfg, dev)
        for i in range(len(eps)):
            m = masks[i]
            comp.add(_bernoulli_lp(zs[i][None], m), old_c[i], torch.ones_like(m), adv[i][:, None],
                     ref_c[i] if ref_c is not None else None)
            for k in range(g):
                j = i * g + k
                lp, mask = pols[j].log_probs(acts[j])
                reader.add(lp, old_r[j], mask, adv[i][k], ref_r[j] if ref_r is not None else None)
        n = len(eps) * g
        _gradient_step([(model, opt), (jm.comp, jm.opt)], (reader.loss + comp.loss + cfg.kl_coef * (reader.kl + comp.kl)) / n)
        stats = {**reader.stats(n), **comp.stats(n, "compressor_")}
    mean = lambda k: float(np.mean([x[k] for ps in parts for x in ps]))  # noqa: E731
    return {"reward": mean("total"), "answer": mean("answer"), "cite": mean("cite"), "cost": mean("cost"),
            "kept": mean("kept"), "flat_groups": int((r.std(1) == 0).sum()), **stats}


@torch.no_grad()
def joint_mean_reward(model: ReaderModel, comp: CompressorModel, threshold: float, enc: ReaderEncoder,
                      eps: list[Episode], wt: RewardWeights, group: int = 8, seed: int = 0, device: str = "cpu",
                      batch: int = 8) -> dict:
    """mean_reward through the compressor: sampled (G masks per window, one reader action each) and
    greedy (tokens with keep_logit >= threshold, as the engine keeps them; decode_window's answer
    and lines on what was kept); "kept" is the share of block tokens kept."""
    dev = pick_device(device)
    model.eval()
    comp.eval()
    gen = torch.Generator(device=dev).manual_seed(seed)
    block_id = enc.sp["<block>"]
    sampled: list[dict[str, float]] = []
    greedy: list[dict[str, float]] = []
    for k in range(0, len(eps), batch):
        chunk = eps[k:k + batch]
        cb = CompressorBatch(chunk, block_id, dev)
        zs = cb.logits(comp, threshold)
        for i, ep in enumerate(chunk):
            masks = torch.rand(group, len(zs[i]), generator=gen, device=dev) < torch.sigmoid(zs[i])[None]
            views = [Compressed(enc, ep, cb.pos[i], m.cpu().numpy()) for m in masks]
            pols = _forward_views(model, views, dev)
            sampled += [_joint_sample_reward(ep, v, _actions(p.sample(1, gen))[0], wt) for v, p in zip(views, pols)]
            view = Compressed(enc, ep, cb.pos[i], (zs[i] >= 0).cpu().numpy())
            st, en, kp, na = _forward(model, [_view_episode(view)], dev)
            n = len(view.window.ids)
            d = decode_window(view.window, *(x[0, :n].float().cpu().numpy() for x in (st, en, kp)), float(na[0]))
            a = d["answer"] if d["answer"] is not None and d["noAnswer"] < 0.5 else None
            span = None if a is None else (a["text"], a["startLine"], a["endLine"])  # start_line 0: line = index
            greedy.append(joint_reward(ep, view, span, frozenset(ln for ln, p in d["keep"].items() if p >= 0.5), wt))
    avg = lambda rs: {k: round(float(np.mean([r[k] for r in rs])), 4) for k in rs[0]} if rs else {}  # noqa: E731
    return {"windows": len(eps), "group": group, "sampled": avg(sampled), "greedy": avg(greedy)}


def joint_threshold(run: Path) -> float:
    """The keep threshold a compressor run is used with: the one an earlier RL run fixed (train.json),
    else the validation-tuned one of `compressor eval` (eval.json)."""
    for f in ("train.json", "eval.json"):
        p = run / f
        if p.exists() and "keep_threshold" in json.loads(p.read_text()):
            return float(json.loads(p.read_text())["keep_threshold"])
    raise SystemExit(f"{run} has no keep_threshold (run `python -m engram_training.compressor eval --run {run}` "
                     "or pass --compressor-threshold)")


def eval_episodes(data: Path, enc: ReaderEncoder, n: int, seed: int) -> list[Episode]:
    """A fixed random subset of the validation rows."""
    rows = load_jsonl(data / "validation.jsonl")
    pick = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [episode_from_row(enc, rows[int(i)]) for i in sorted(pick)]


def _resumable(settings: dict) -> dict:
    """The settings a checkpoint must share to be continued (more steps are fine)."""
    return {**settings, "rl": {k: v for k, v in settings.get("rl", {}).items() if k != "steps"}}


def train_rl(data: Path, out: Path, init: Path, cfg: RLConfig | None = None, wt: RewardWeights | None = None,
             budget_s: float = 600, device: str = "auto", tokenizer: Path = DEFAULT_TOKENIZER, log=None,
             joint: JointConfig | None = None) -> dict:
    """RL from the supervised run `init` into `out` (train.json + model.pt, as reader.train);
    resumes from out/ckpt.pt; stops after cfg.steps steps or budget_s seconds in all. With `joint`,
    the compressor run is trained with it (joint_step) and written to out/compressor (train.json +
    model.pt, as compressor.train: `compressor export --run OUT/compressor` ships it)."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    cfg, wt = cfg or RLConfig(), wt or RewardWeights()
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    reward_w = asdict(wt)
    if joint is None:
        del reward_w["read_cost"]  # not part of the reader-only reward (and older checkpoints lack it)
    settings: dict = {"init": str(init), "rl": asdict(cfg), "reward": reward_w}
    if joint is not None:
        th = joint.threshold if joint.threshold is not None else joint_threshold(joint.run)
        settings["joint"] = {"compressor": str(joint.run), "threshold": th, "lr": joint.lr}
    ckpt = out / "ckpt.pt"
    state = torch.load(ckpt, map_location=dev, weights_only=False) if ckpt.exists() else None
    if state is not None and _resumable(state.get("settings", {})) != _resumable(settings):
        raise SystemExit(f"{ckpt} was written with other settings ({state.get('settings')}); use another --out")
    model = load_model(init, str(dev))
    c = model.config
    ref = load_model(init, str(dev)) if cfg.kl_coef > 0 else None
    if ref is not None:
        ref.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    enc = ReaderEncoder(tokenizer)
    jm = None
    if joint is not None:
        comp = load_compressor(joint.run).to(dev)
        if comp.config.vocab_size != c.vocab_size:
            raise SystemExit(f"{joint.run} reads a vocabulary of {comp.config.vocab_size} tokens, the reader "
                             f"{c.vocab_size}: both must use the same tokenizer")
        cref = load_compressor(joint.run).to(dev).requires_grad_(False) if cfg.kl_coef > 0 else None
        jm = JointModels(comp, cref, torch.optim.AdamW(comp.parameters(), lr=joint.lr, weight_decay=0.0), th,
                         enc.sp["<block>"])
    step, seen_s, history, before = 0, 0.0, [], None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if jm is not None:
            jm.comp.load_state_dict(state["compressor"])
            jm.opt.load_state_dict(state["compressor_opt"])
        step, seen_s, history, before = state["step"], state["seconds"], state["history"], state["before"]
        say(f"resumed at step {step}")
    ds = Packed(data / "train.npz")
    held = eval_episodes(data, enc, cfg.eval_rows, cfg.seed)

    def measure() -> dict:
        if jm is None:
            return mean_reward(model, held, wt, cfg.group, cfg.seed, str(dev))
        return joint_mean_reward(model, jm.comp, jm.threshold, enc, held, wt, cfg.group, cfg.seed, str(dev))
    if before is None:
        before = measure()
        say(f"before: validation reward sampled {before['sampled']['total']:.4f} greedy {before['greedy']['total']:.4f}")

    def save() -> None:  # beside the checkpoint, then renamed: a killed run never leaves half of one
        tmp = ckpt.with_suffix(".tmp")
        extra = {} if jm is None else {"compressor": jm.comp.state_dict(), "compressor_opt": jm.opt.state_dict()}
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": asdict(c),
                    "seconds": seen_s + time.time() - t0, "settings": settings, "history": history, "before": before,
                    **extra}, tmp)
        tmp.replace(ckpt)

    t0 = time.time()
    last_save = time.time()
    while step < cfg.steps and seen_s + time.time() - t0 < budget_s:
        rng = np.random.default_rng([cfg.seed, step])  # the batch and the samples depend on the step only: resumable
        gen = torch.Generator(device=dev).manual_seed(cfg.seed * 1_000_003 + step)
        eps = [episode_from_packed(enc, ds, int(i)) for i in rng.choice(len(ds), cfg.windows, replace=False)]
        st = (rl_step(model, ref, opt, eps, cfg, wt, gen, dev) if jm is None
              else joint_step(model, ref, opt, jm, enc, eps, cfg, wt, gen, dev))
        history.append(st)
        step += 1
        el = seen_s + time.time() - t0
        h = history[-10:]
        say(f"step {step} reward {np.mean([x['reward'] for x in h]):.3f} answer {np.mean([x['answer'] for x in h]):.3f} "
            f"cite {np.mean([x['cite'] for x in h]):.3f} cost {np.mean([x['cost'] for x in h]):.3f} "
            + (f"kept {np.mean([x['kept'] for x in h]):.3f} " if jm is not None else "")
            + f"kl {st['kl']:.4f} clipped {st['clipped']:.3f} {step / max(1e-9, el):.3f} steps/s")
        if time.time() - last_save > 120:
            save()
            last_save = time.time()
    seconds = seen_s + time.time() - t0
    save()
    after = measure()
    say(f"after: validation reward sampled {after['sampled']['total']:.4f} greedy {after['greedy']['total']:.4f}")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / "model.pt")
    info = {"config": asdict(c), "steps": step, "seconds": round(seconds, 1), "device": str(dev),
            "device_name": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
            "steps_per_s": round(step / max(1e-9, seconds), 4), "windows_seen": step * cfg.windows,
            "method": "GRPO (group-relative, clipped, k3 KL to the reference)", **settings,
            "train_reward_last10": round(float(np.mean([x["reward"] for x in history[-10:]])), 4) if history else None,
            "validation_reward": {"before": before, "after": after}, "seed": cfg.seed, "lr": cfg.lr}
    (out / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    if jm is not None:
        _save_compressor(jm, joint.run, out / "compressor", info)  # type: ignore[union-attr]
    return info


def _save_compressor(jm: JointModels, init: Path, run: Path, info: dict) -> None:
    """The updated compressor in compressor.train's layout, its supervised figures kept and the RL
    noted; keep_threshold fixes the keep rule RL sampled around (compressor.publish keeps it)."""
    run.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu() for k, v in jm.comp.state_dict().items()}, run / "model.pt")
    sup = json.loads((init / "train.json").read_text())
    rl = {"init": str(init), "steps": info["steps"], "seconds": info["seconds"], "lr": info["joint"]["lr"],
          "reward": {k: info["validation_reward"][k]["greedy"] for k in ("before", "after")}}
    (run / "train.json").write_text(json.dumps({**sup, "keep_threshold": jm.threshold, "rl": rl}, indent=1) + "\n")


def _add_dataclass_args(p: argparse.ArgumentParser, cls, skip: set[str]) -> None:
    for f in fields(cls):
        if f.name not in skip:
            p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.reader_rl")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="GRPO from a supervised run (resumes from OUT/ckpt.pt)")
    t.add_argument("--data", type=Path, default=Path(".data/reader"))
    t.add_argument("--init", type=Path, required=True, help="the supervised run to start from (and the KL reference)")
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--budget-s", type=float, default=600)
    t.add_argument("--device", default="auto")
    t.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    _add_dataclass_args(t, RLConfig, set())
    t.add_argument("--joint-compressor", type=Path, default=None, metavar="RUN",
                   help="train this compressor run jointly: it keeps tokens, the reader reads what it kept")
    t.add_argument("--compressor-threshold", type=float, default=None,
                   help="keep logit threshold (default: RUN/train.json or RUN/eval.json keep_threshold)")
    t.add_argument("--compressor-lr", type=float, default=JointConfig.lr)
    r = sub.add_parser("reward", help="mean reward (sampled and greedy) of a run on validation rows")
    r.add_argument("--data", type=Path, default=Path(".data/reader"))
    r.add_argument("--run", type=Path, required=True)
    r.add_argument("--rows", type=int, default=128)
    r.add_argument("--group", type=int, default=8)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="auto")
    r.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    for p in (t, r):
        for f in fields(RewardWeights):
            p.add_argument("--w-" + f.name.replace("_", "-"), dest="w_" + f.name, type=float, default=f.default)
    a = ap.parse_args(argv)
    wt = RewardWeights(**{f.name: getattr(a, "w_" + f.name) for f in fields(RewardWeights)})
    if not (a.data / "validation.jsonl").exists():
        raise SystemExit(f"{a.data}/validation.jsonl not found: run `python -m engram_training.reader data` first")
    if a.cmd == "train":
        if not (a.init / "train.json").exists():
            raise SystemExit(f"{a.init} is not a reader run (no train.json)")
        cfg = RLConfig(**{f.name: getattr(a, f.name) for f in fields(RLConfig)})
        joint = None
        if a.joint_compressor is not None:
            if not (a.joint_compressor / "model.pt").exists():
                raise SystemExit(f"{a.joint_compressor} is not a compressor run (no model.pt)")
            joint = JointConfig(a.joint_compressor, a.compressor_threshold, a.compressor_lr)
        print(json.dumps(train_rl(a.data, a.out, a.init, cfg, wt, a.budget_s, a.device, a.tokenizer, joint=joint), indent=1))
    else:
        enc = ReaderEncoder(a.tokenizer)
        res = mean_reward(load_model(a.run, a.device), eval_episodes(a.data, enc, a.rows, a.seed), wt, a.group, a.seed, a.device)
        print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
