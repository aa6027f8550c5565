"""The gate: a classifier over (question, working memory, block) -> relevant.

A small transformer encoder reads `<s> <question> Q <memory> M <block> path:a-b\\nBLOCK`
and gives one logit. It is trained on evidence labels with hard negatives (other blocks
of the same file, blocks that mention the question's identifiers, BM25 look-alikes) and,
for call chains, working memories that hold the earlier hop.

    python -m engram_training.gate data  --corpus .data/corpus --qa .data/qa --out .data/gate
    python -m engram_training.gate train --data .data/gate --out .data/gate/run [--budget-s 600] [--device auto]
    python -m engram_training.gate eval  --data .data/gate --run .data/gate/run
    python -m engram_training.gate export --data .data/gate --run .data/gate/run --out ../models/engram-gate

Evaluation is on held-out repositories: recall@4/8/16 of the evidence blocks among the
candidates (all blocks of contexts up to 64 blocks, else BM25's top 64 from the whole
context, as the engine recalls before gating), against BM25's own order, and precision
and recall at the threshold chosen for F1 on the validation split.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import match_features, segments
from .runs import add_train_parser, pick_device, save_ckpt

MAX_LEN = 512
Q_MAX = 64
MEM_MAX = 96
CANDIDATES = 64
KS = (4, 8, 16)

# ---------------------------------------------------------------- model


@dataclass
class GateConfig:
    vocab_size: int = 12000
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    ff: int = 384
    max_len: int = MAX_LEN
    pad_id: int = 0
    memory_id: int = 5  # "<memory>" in engram-tokenizer
    block_id: int = 6  # "<block>"


class _Layer(nn.Module):
    def __init__(self, c: GateConfig) -> None:
        super().__init__()
        self.heads = c.heads
        self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.proj = nn.Linear(c.d_model, c.d_model)
        self.ff = nn.Sequential(nn.Linear(c.d_model, c.ff), nn.GELU(), nn.Linear(c.ff, c.d_model))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.ln1(x)
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(d // self.heads)) + bias
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.ff(self.ln2(x))


class GateModel(nn.Module):
    """input_ids [B,T] int64, attention_mask [B,T] int64 -> logits [B]."""

    def __init__(self, c: GateConfig) -> None:
        super().__init__()
        self.config = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.max_len, c.d_model)
        # Segment (question / memory / block) and exact-match features: whether a token
        # also occurs in the question and in the memory (as in DrQA). A small encoder
        # trained from scratch does not learn exact identifier matching on its own.
        self.seg = nn.Embedding(3, c.d_model)
        self.match = nn.Embedding(4, c.d_model)
        self.layers = nn.ModuleList(_Layer(c) for _ in range(c.layers))
        self.ln = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        c = self.config
        seg = segments(input_ids, [c.memory_id, c.block_id])
        feat = match_features(input_ids, attention_mask, seg)
        x = self.tok(input_ids) + self.pos(pos) + self.seg(seg) + self.match(feat)
        m = attention_mask.to(x.dtype)
        bias = ((1.0 - m) * -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        x = self.ln(x)
        pooled = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return self.head(pooled).squeeze(-1)


# ---------------------------------------------------------------- data


def _ident(question: str) -> list[str]:
    return re.findall(r"`([^`]+)`", question)


class Encoder:
    def __init__(self, tokenizer_path: Path) -> None:
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(str(tokenizer_path))
        self.sp = {t: self.tok.token_to_id(t) for t in ("<s>", "<question>", "<memory>", "<block>")}

    def ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode(self, question: str, memory: str, block_text: str, max_len: int = MAX_LEN) -> list[int]:
        out = [self.sp["<s>"], self.sp["<question>"]] + self.ids(question)[:Q_MAX]
        out += [self.sp["<memory>"]] + self.ids(memory)[:MEM_MAX] + [self.sp["<block>"]]
        out += self.ids(block_text)
        return out[:max_len]


def _pack(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    flat = np.fromiter((i for r in rows for i in r), dtype=np.uint16, count=int(offsets[-1]))
    return flat, offsets



def build_data(corpus: Path, qa: Path, tokenizer: Path, out: Path, seed: int = 0, max_train: int = 60000,
               max_eval_questions: int = 600, log=None) -> dict:
    """Tokenised train examples and evaluation candidate lists, as .npz files under out."""
    from .blocks import BM25, chunk_file, questions_by_context
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    enc = Encoder(tokenizer)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    block_cache: dict[tuple[str, str], list] = {}
    stats: dict = {}
    for split in ("train", "validation", "test"):
        t0 = time.time()
        contexts, by_ctx = questions_by_context(qa, split, rng, None if split == "train" else max_eval_questions)
        rows: list[list[int]] = []
        labels: list[int] = []
        groups: list[int] = []
        bm25s: list[float] = []
        meta: list[dict] = []
        for cid, qs in by_ctx.items():
            ctx = contexts[cid]
            blocks = []
            for path in ctx["files"]:
                key = (ctx["repo"], path)
                if key not in block_cache:
                    text = (corpus / "repos" / ctx["repo"] / path).read_text("utf-8")
                    block_cache[key] = chunk_file(path, text)
                blocks.extend(block_cache[key])
            if not blocks:
                continue
            bm = BM25([b.text for b in blocks])
            texts = [b.header() + b.text for b in blocks]
            for q in qs:
                pos = [i for i, b in enumerate(blocks) if any(b.overlaps(e) for e in q["evidence"])]
                scores = bm.scores(q["question"])
                order = sorted(range(len(blocks)), key=lambda i: -scores[i])
                if split == "train":
                    if len(rows) >= max_train:
                        break
                    for memory, p_idx, n_idx in _train_items(q, blocks, pos, order, rng):
                        for i, lab in [(i, 1) for i in p_idx] + [(i, 0) for i in n_idx]:
                            rows.append(enc.encode(q["question"], memory, texts[i]))
                            labels.append(lab)
                else:
                    cand = list(range(len(blocks))) if len(blocks) <= CANDIDATES else order[:CANDIDATES]
                    g = len(meta)
                    meta.append({"id": q["id"], "kind": q["kind"], "size_class": q.get("size_class", ""),
                                 "blocks": len(blocks), "positives": len(pos)})
                    for i in cand:
                        rows.append(enc.encode(q["question"], "", texts[i]))
                        labels.append(1 if i in pos else 0)
                        groups.append(g)
                        bm25s.append(scores[i])
        flat, offsets = _pack(rows)
        arrays = {"ids": flat, "offsets": offsets, "labels": np.array(labels, dtype=np.int8)}
        if split != "train":
            arrays |= {"groups": np.array(groups, dtype=np.int32), "bm25": np.array(bm25s, dtype=np.float32)}
            (out / f"{split}.meta.json").write_text(json.dumps(meta) + "\n")
        np.savez_compressed(out / f"{split}.npz", **arrays)
        stats[split] = {"examples": len(rows), "positives": int(sum(labels)), "questions": len(meta) or sum(map(len, by_ctx.values())),
                        "tokens": int(offsets[-1])}
        say(f"gate data {split}: {stats[split]} ({time.time() - t0:.0f}s)")
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def _train_items(q: dict, blocks: list, pos: list[int], order: list[int], rng: random.Random):
    """(memory, positive block indices, negative block indices) for one training question."""
    pos_set = set(pos)
    n = len(blocks)
    others = [i for i in range(n) if i not in pos_set]
    if not others:
        return []
    names = _ident(q["question"])
    ev_paths = {e["path"] for e in q["evidence"]}
    same_file = [i for i in others if blocks[i].path in ev_paths]
    same_ident = [i for i in others if any(nm in blocks[i].text for nm in names)]
    lexical = [i for i in order[:12] if i not in pos_set]
    negs: list[int] = []
    for pool, k in ((same_file, 2), (same_ident, 2), (lexical, 2), (others, 1)):
        cands = [i for i in pool if i not in negs]
        negs.extend(rng.sample(cands, min(k, len(cands))))
    if not pos:  # unanswerable: look-alikes only, all negative
        return [("", [], negs)]
    positives = rng.sample(pos, min(2, len(pos)))
    items = []
    memory = ""
    if rng.random() < 0.3:  # an unrelated working memory must not change the answer
        memory = "Noted: " + blocks[rng.choice(others)].text.strip().split("\n")[0][:200]
    items.append((memory, positives, negs))
    if q["kind"] == "call_chain" and len(q["evidence"]) >= 2:
        # Working memory that holds the earlier hop: the next hops' blocks are relevant.
        first = q["evidence"][0]
        hop_line = next((b.text.split("\n")[first["startLine"] - b.start] for b in blocks
                         if b.overlaps(first) and first["startLine"] - b.start < len(b.text.split("\n"))), "")
        memory = f"Found at {first['path']}:{first['startLine']}: {hop_line.strip()[:200]}"
        later = [i for i in pos if any(blocks[i].overlaps(e) for e in q["evidence"][1:])]
        if later:
            items.append((memory, later[:2], negs[:4]))
    return items


class Packed:
    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.ids, self.offsets, self.labels = z["ids"], z["offsets"], z["labels"]
        self.groups = z["groups"] if "groups" in z else None
        self.bm25 = z["bm25"] if "bm25" in z else None

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, idx: list[int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        seqs = [self.ids[self.offsets[i]:self.offsets[i + 1]].astype(np.int64) for i in idx]
        t = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), t), dtype=np.int64)
        mask = np.zeros((len(seqs), t), dtype=np.int64)
        for r, s in enumerate(seqs):
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        lab = torch.tensor(self.labels[idx].astype(np.float32))
        return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device), lab.to(device)


# ---------------------------------------------------------------- training



def train(data: Path, run: Path, config: GateConfig | None = None, budget_s: float = 600, epochs: float = 3.0,
          batch_size: int = 64, lr: float = 5e-4, seed: int = 0, device: str = "auto", log=None) -> dict:
    """Trains until `epochs` or `budget_s` runs out; resumes from run/ckpt.pt."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    torch.manual_seed(seed)
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    ds = Packed(data / "train.npz")
    c = config or GateConfig()
    run.mkdir(parents=True, exist_ok=True)
    model = GateModel(c).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    total_steps = max(1, int(epochs * len(ds) / batch_size))
    step, seen_s = 0, 0.0
    ckpt = run / "ckpt.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=dev, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, seen_s, c = state["step"], state["seconds"], GateConfig(**state["config"])
        say(f"resumed at step {step}")
    n_pos = float(ds.labels.sum())
    pos_weight = torch.tensor((len(ds) - n_pos) / max(1.0, n_pos), device=dev)
    rng = np.random.default_rng(seed + step)
    order = rng.permutation(len(ds))
    t0 = time.time()
    model.train()
    losses: list[float] = []
    last_save = time.time()
    while step < total_steps and seen_s + (time.time() - t0) < budget_s:
        k = (step * batch_size) % len(ds)
        if k + batch_size > len(ds):
            order = rng.permutation(len(ds))
            k = 0
        ids, mask, lab = ds.batch(order[k:k + batch_size].tolist(), dev)
        warm = min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))
        loss = F.binary_cross_entropy_with_logits(model(ids, mask), lab, pos_weight=pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 100 == 0:
            say(f"step {step}/{total_steps} loss {np.mean(losses[-100:]):.4f} "
                f"{(step * batch_size) / max(1e-9, seen_s + time.time() - t0):.0f} ex/s")
        if time.time() - last_save > 120:
            save_ckpt(ckpt, model, opt, step, seen_s + time.time() - t0, c)
            last_save = time.time()
    seconds = seen_s + time.time() - t0
    save_ckpt(ckpt, model, opt, step, seconds, c)
    from safetensors.torch import save_file
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(run / "model.safetensors"))
    info = {"config": asdict(c), "steps": step, "total_steps": total_steps, "seconds": round(seconds, 1),
            "examples_seen": step * batch_size, "train_examples": len(ds), "device": str(dev),
            "device_name": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
            "final_loss": float(np.mean(losses[-100:])) if losses else None, "seed": seed, "lr": lr,
            "batch_size": batch_size}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    say(f"trained {step} steps in {seconds:.0f}s on {info['device_name']}")
    return info



def load_model(run: Path, device: str = "cpu") -> GateModel:
    from safetensors.torch import load_file
    info = json.loads((run / "train.json").read_text())
    model = GateModel(GateConfig(**info["config"]))
    model.load_state_dict(load_file(str(run / "model.safetensors")))
    return model.to(pick_device(device)).eval()


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def score(model: GateModel, ds: Packed, device: torch.device, batch_size: int = 128) -> np.ndarray:
    out = np.zeros(len(ds), dtype=np.float32)
    order = np.argsort(np.diff(ds.offsets))  # similar lengths together
    for k in range(0, len(ds), batch_size):
        idx = order[k:k + batch_size].tolist()
        ids, mask, _ = ds.batch(idx, device)
        out[idx] = model(ids, mask).float().cpu().numpy()
    return out


def ranking_metrics(scores: np.ndarray, ds: Packed, meta: list[dict]) -> dict:
    """Mean recall@k of evidence blocks over answerable questions (denominator: all
    evidence blocks of the context, so misses by the candidate recall count)."""
    assert ds.groups is not None
    res: dict = {f"recall@{k}": [] for k in KS}
    by_class: dict[str, dict[str, list[float]]] = {}
    for g, m in enumerate(meta):
        if m["positives"] == 0:
            continue
        rows = np.nonzero(ds.groups == g)[0]
        ranked = rows[np.argsort(-scores[rows], kind="stable")]
        for k in KS:
            r = float(ds.labels[ranked[:k]].sum()) / m["positives"]
            res[f"recall@{k}"].append(r)
            by_class.setdefault(m["size_class"], {}).setdefault(f"recall@{k}", []).append(r)
    out = {k: round(float(np.mean(v)), 4) if v else None for k, v in res.items()}
    out["questions"] = len(res["recall@4"])
    out["by_size"] = {c: {k: round(float(np.mean(v)), 4) for k, v in d.items()} | {"questions": len(d["recall@4"])}
                      for c, d in sorted(by_class.items())}
    return out


def rrf(a: np.ndarray, b: np.ndarray, groups: np.ndarray | None, k: float = 60.0) -> np.ndarray:
    """Reciprocal-rank fusion of two scores within each question's candidates."""
    assert groups is not None
    out = np.zeros(len(a), dtype=np.float64)
    for g in np.unique(groups):
        rows = np.nonzero(groups == g)[0]
        for sc in (a, b):
            ranks = np.empty(len(rows))
            ranks[np.argsort(-sc[rows], kind="stable")] = np.arange(len(rows))
            out[rows] += 1.0 / (k + ranks)
    return out


def threshold_for_f1(scores: np.ndarray, labels: np.ndarray) -> float:
    best, best_t = -1.0, 0.0
    for t in np.quantile(scores, np.linspace(0.5, 0.995, 100)):
        pred = scores >= t
        tp = float((pred & (labels == 1)).sum())
        p, r = tp / max(1.0, pred.sum()), tp / max(1.0, (labels == 1).sum())
        f1 = 2 * p * r / max(1e-9, p + r)
        if f1 > best:
            best, best_t = f1, float(t)
    return best_t


def evaluate(data: Path, run: Path, device: str = "auto") -> dict:
    dev = pick_device(device)
    model = load_model(run, str(dev))
    result: dict = {}
    scored: dict[str, tuple[np.ndarray, Packed]] = {}
    for split in ("validation", "test"):
        ds = Packed(data / f"{split}.npz")
        meta = json.loads((data / f"{split}.meta.json").read_text())
        s = score(model, ds, dev)
        np.save(run / f"scores-{split}.npy", s)
        scored[split] = (s, ds)
        assert ds.bm25 is not None
        result[split] = {"gate": ranking_metrics(s, ds, meta), "bm25": ranking_metrics(ds.bm25, ds, meta),
                         "gate+bm25": ranking_metrics(rrf(s, ds.bm25, ds.groups), ds, meta),
                         "candidates": len(ds), "questions": len(meta)}
    t = threshold_for_f1(*((scored["validation"][0], scored["validation"][1].labels)))
    s, ds = scored["test"]
    pred = s >= t
    tp = float((pred & (ds.labels == 1)).sum())
    result["threshold"] = {"logit": round(t, 4), "probability": round(1 / (1 + math.exp(-t)), 4),
                           "test_precision": round(tp / max(1.0, pred.sum()), 4),
                           "test_recall": round(tp / max(1.0, (ds.labels == 1).sum()), 4),
                           "test_positive_rate": round(float(ds.labels.mean()), 4)}
    (run / "eval.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.gate")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="tokenised training examples and evaluation candidates")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--tokenizer", type=Path, default=Path("../models/engram-tokenizer/tokenizer.json"))
    d.add_argument("--out", type=Path, default=Path(".data/gate"))
    d.add_argument("--max-train", type=int, default=60000)
    d.add_argument("--seed", type=int, default=0)
    add_train_parser(sub, "gate", epochs=3.0, d_model=128, layers=4)
    e = sub.add_parser("eval", help="recall@k vs BM25 on held-out repositories")
    e.add_argument("--data", type=Path, default=Path(".data/gate"))
    e.add_argument("--run", type=Path, default=Path(".data/gate/run"))
    e.add_argument("--device", default="auto")
    x = sub.add_parser("export", help="ONNX fp32 + int8, model card, manifest entry")
    x.add_argument("--run", type=Path, default=Path(".data/gate/run"))
    x.add_argument("--out", type=Path, default=Path("../models/engram-gate"))
    x.add_argument("--tokenizer-dir", type=Path, default=Path("../models/engram-tokenizer"))
    x.add_argument("--manifest", type=Path, default=Path("../models/manifest.json"))
    a = ap.parse_args(argv)
    if a.cmd == "data":
        print(json.dumps(build_data(a.corpus, a.qa, a.tokenizer, a.out, a.seed, a.max_train), indent=1))
    elif a.cmd == "train":
        from .tokenizer import SPECIAL_TOKENS  # noqa: F401 (vocabulary layout shared with the tokenizer)
        c = GateConfig(d_model=a.d_model, layers=a.layers, ff=3 * a.d_model)
        print(json.dumps(train(a.data, a.out, c, a.budget_s, a.epochs, a.batch_size, a.lr, a.seed, a.device), indent=1))
    elif a.cmd == "eval":
        print(json.dumps(evaluate(a.data, a.run, a.device), indent=1))
    else:
        from .publish import publish_gate
        print(json.dumps(publish_gate(a.run, a.out, a.tokenizer_dir, a.manifest), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
