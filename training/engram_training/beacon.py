"""Latent memory, Activation-Beacon style (issue 6 item 3).

A chunk of n tokens gets one beacon token (`<|beacon|>`) after every `ratio` tokens (and one
after a last, shorter group): ceil(n / ratio) beacons. One forward pass over that sequence
(positions 0..L-1, use_cache) gives every layer's key/value states; only the states at the
beacon positions are kept. That is the block's latent form. The reasoner then reads the
states of one or more blocks (concatenated along the sequence axis) as past key values: the
question (and answer) get attention mask 1 over the whole prefix and position ids that
continue after it (m, m+1, ... for m prefix states), exactly as a decoder continues its own
cache. The same decoder graph with past key values computes both passes, so the ONNX export
is the ordinary Optimum layout; the engine (src/core/models/latent.ts) slices the present.*
outputs at the beacon positions.

Reader input after the prefix:  <question> QUESTION <answer> ANSWER </s>
(the loss is on ANSWER </s> only). Training is end to end: the answer loss backpropagates
through the sliced beacon states into the chunk pass. Each step also trains the two forms
it is compared with, through the same reader pass: `raw` (every chunk token's states) and
`text` (the chunk's first m tokens, the same prefix length as the latent form).

    python -m engram_training.beacon data   --corpus .data/corpus --qa .data/qa --out .data/beacon
    python -m engram_training.beacon train  --data .data/beacon --out .data/beacon/run --budget-s 1000
    python -m engram_training.beacon eval   --data .data/beacon --run .data/beacon/run [--limit 300]
    python -m engram_training.beacon export --data .data/beacon --run .data/beacon/run --out DIR
    python -m engram_training.beacon fixture --tiny --out ../test/fixtures/tiny-beacon

Data: QA rows of the kinds whose answer is written in the evidence (constant, param_default,
definition: the path, which heads the chunk, describe: the function's name), one window of
`chunk_tokens` tokens per question starting a few lines (seeded) above the evidence,
`PATH\\nLINES...`; rows whose answer is not in the window are skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from .reader import DEFAULT_TOKENIZER, normalize
from .runs import load_jsonl, pick_device, save_ckpt

BEACON = "<|beacon|>"
QUESTION, ANSWER = "<question>", "<answer>"
KINDS = ("constant", "param_default", "definition", "describe")
FORMS = ("latent", "text", "raw")
Q_MAX, A_MAX = 48, 16

States = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (key, value): [B, kv_heads, m, head_dim]


@dataclass
class BeaconConfig:
    vocab_size: int
    beacon_id: int
    question_id: int
    answer_id: int
    eos_id: int
    pad_id: int
    ratio: int = 4
    chunk_tokens: int = 64
    d_model: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 384
    max_positions: int = 512


def build_model(cfg: BeaconConfig, seed: int = 0):
    """The generative reasoner's Qwen2 decoder (eager attention, tied embeddings) at this size."""
    from .generative import GenConfig, build_model as build_decoder

    shape = GenConfig(hidden=cfg.d_model, layers=cfg.layers, heads=cfg.heads, kv_heads=cfg.kv_heads,
                      intermediate=cfg.ffn, max_len=cfg.max_positions, vocab=cfg.vocab_size)
    return build_decoder(shape, cfg.eos_id, cfg.pad_id, seed)


# ---------------------------------------------------------------- the two passes


def interleave(ids: list[int], ratio: int, beacon_id: int) -> tuple[list[int], list[int]]:
    """The chunk with a beacon after every `ratio` tokens (and after a last short group), and
    the beacon positions in that sequence (src/core/models/latent.ts does the same)."""
    seq: list[int] = []
    pos: list[int] = []
    for g in range(0, len(ids), ratio):
        seq += ids[g : g + ratio]
        pos.append(len(seq))
        seq.append(beacon_id)
    return seq, pos


def chunk_states(model, chunk: torch.Tensor, form: str, cfg: BeaconConfig) -> States:
    """Prefix states of a batch of equal-length chunks [B, n] in one form."""
    if form == "latent":
        seq, pos = interleave(chunk[0].tolist(), cfg.ratio, cfg.beacon_id)
        x = torch.full((chunk.shape[0], len(seq)), cfg.beacon_id, dtype=torch.long, device=chunk.device)
        beacons = set(pos)
        raw_at = [i for i in range(len(seq)) if i not in beacons]
        x[:, raw_at] = chunk
        keep = torch.tensor(pos, device=chunk.device)
    else:
        x = chunk if form == "raw" else chunk[:, : math.ceil(chunk.shape[1] / cfg.ratio)]
        keep = None
    cache = model.model(input_ids=x, use_cache=True).past_key_values
    out = []
    for layer in cache.layers:
        k, v = layer.keys, layer.values
        out.append((k, v) if keep is None else (k[:, :, keep], v[:, :, keep]))
    return out


def concat_states(blocks: list[States]) -> States:
    """Several blocks' states as one prefix (the order they are read in)."""
    return [(torch.cat([b[i][0] for b in blocks], 2), torch.cat([b[i][1] for b in blocks], 2)) for i in range(len(blocks[0]))]


def read(model, prefix: States | None, ids: torch.Tensor, mask: torch.Tensor):
    """The reasoner pass over `ids` [B, T] after the prefix states; returns (hidden, cache)."""
    from transformers import DynamicCache

    b, t = ids.shape
    m = prefix[0][0].shape[2] if prefix else 0
    cache = DynamicCache(config=model.config)
    for i, (k, v) in enumerate(prefix or []):
        cache.update(k, v, i)
    attn = torch.cat([torch.ones(b, m, dtype=mask.dtype, device=ids.device), mask], 1)
    pos = (m + torch.arange(t, device=ids.device)).unsqueeze(0).expand(b, t)
    out = model.model(input_ids=ids, attention_mask=attn, position_ids=pos, past_key_values=cache, use_cache=True)
    return out.last_hidden_state, out.past_key_values


def prompt_ids(question: list[int], cfg: BeaconConfig) -> list[int]:
    return [cfg.question_id, *question[:Q_MAX], cfg.answer_id]


@torch.no_grad()
def greedy(model, prefix: States | None, question: list[int], cfg: BeaconConfig, max_new: int = A_MAX) -> list[int]:
    """Greedy answer ids (without eos) after the prefix states."""
    ids = torch.tensor([prompt_ids(question, cfg)])
    m = prefix[0][0].shape[2] if prefix else 0
    hidden, cache = read(model, prefix, ids, torch.ones_like(ids))
    out: list[int] = []
    pos = m + ids.shape[1]
    while len(out) < max_new:
        nxt = int(model.lm_head(hidden[0, -1]).argmax())
        if nxt == cfg.eos_id:
            break
        out.append(nxt)
        x = torch.tensor([[nxt]])
        res = model.model(input_ids=x, attention_mask=torch.ones(1, pos + 1, dtype=torch.long),
                          position_ids=torch.tensor([[pos]]), past_key_values=cache, use_cache=True)
        hidden, cache, pos = res.last_hidden_state, res.past_key_values, pos + 1
    return out


def batch_tensors(rows: list[dict], cfg: BeaconConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """chunk [B, n], reader ids [B, T], mask [B, T], labels [B, T] (next-token targets, -100 off the answer)."""
    seqs = [prompt_ids(r["question"], cfg) + r["answer"][:A_MAX] + [cfg.eos_id] for r in rows]
    t = max(len(s) for s in seqs)
    ids = torch.full((len(rows), t), cfg.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), t), dtype=torch.long)
    labels = torch.full((len(rows), t), -100, dtype=torch.long)
    for i, (r, s) in enumerate(zip(rows, seqs)):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        p = len(prompt_ids(r["question"], cfg))
        labels[i, p - 1 : len(s) - 1] = torch.tensor(s[p:])
    chunk = torch.tensor([r["chunk"][: cfg.chunk_tokens] for r in rows])
    return chunk, ids, mask, labels


def answer_loss(model, chunk, ids, mask, labels, form: str, cfg: BeaconConfig) -> torch.Tensor:
    hidden, _ = read(model, chunk_states(model, chunk, form, cfg), ids, mask)
    at = labels != -100
    return F.cross_entropy(model.lm_head(hidden[at]), labels[at])


# ---------------------------------------------------------------- data


def load_tokenizer(path: Path, extra: tuple[str, ...] = (BEACON,)):
    """The BPE tokenizer with the beacon token added (a new special id after the vocabulary)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.add_special_tokens([t for t in extra if tok.token_to_id(t) is None])
    return tok


def window(q: dict, repos: Path, tok, n: int, rng: random.Random) -> dict | None:
    if q.get("kind") not in KINDS or not q.get("evidence"):
        return None
    ev = q["evidence"][0]
    f = repos / q["repo"] / ev["path"]
    if not f.is_file():
        return None
    lines = f.read_text(errors="replace").splitlines()
    start = max(0, ev["startLine"] - 1 - rng.randint(0, 6))
    ids = tok.encode(ev["path"] + "\n" + "\n".join(lines[start : start + 120])).ids[:n]
    answer = tok.encode(q["answer"]).ids
    if len(ids) < n or not q["answer"] or len(answer) > A_MAX or normalize(q["answer"]) not in tok.decode(ids):
        return None
    return {"id": q["id"], "kind": q["kind"], "chunk": ids, "question": tok.encode(q["question"]).ids[:Q_MAX],
            "answer": answer, "answer_text": q["answer"]}


def build_data(corpus: Path, qa: Path, out: Path, tokenizer: Path = DEFAULT_TOKENIZER, chunk_tokens: int = 64,
               seed: int = 0) -> dict:
    tok = load_tokenizer(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    stats: dict = {"chunk_tokens": chunk_tokens}
    for split in ("train", "validation", "test"):
        rng = random.Random(f"{seed}:{split}")
        rows = [w for q in load_jsonl(qa / split / "qa.jsonl") if (w := window(q, corpus / "repos", tok, chunk_tokens, rng))]
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        stats[split] = len(rows)
        print(f"{split}: {len(rows)} windows", file=sys.stderr)
    (out / "data.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def config_for(tok, **kw) -> BeaconConfig:
    ids = {name: tok.token_to_id(t) for name, t in
           (("beacon_id", BEACON), ("question_id", QUESTION), ("answer_id", ANSWER))}
    eos = tok.token_to_id("</s>")
    eos = eos if eos is not None else tok.token_to_id("<|endoftext|>")
    pad = tok.token_to_id("<pad>")
    return BeaconConfig(vocab_size=tok.get_vocab_size(), eos_id=eos, pad_id=eos if pad is None else pad, **ids, **kw)


# ---------------------------------------------------------------- train / eval


def train(data: Path, run: Path, cfg: BeaconConfig, budget_s: float = 900, steps: int = 100000, batch_size: int = 32,
          lr: float = 2e-3, forms: tuple[str, ...] = FORMS, seed: int = 0, device: str = "cpu") -> dict:
    """End-to-end training; resumes from RUN/ckpt.pt (saved every 2 minutes and at the end)."""
    rows = load_jsonl(data / "train.jsonl")
    run.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    model = build_model(cfg, seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    step, spent = 0, 0.0
    ckpt = run / "ckpt.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=dev)
        if state["config"] != asdict(cfg):
            ckpt.rename(run / f"ckpt.stale-{int(time.time())}.pt")
        else:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            step, spent = state["step"], state["seconds"]
    model.train()
    t0, last_save = time.time() - spent, time.time()
    warmup = 100
    losses: dict[str, float] = {}
    while step < steps and time.time() - t0 < budget_s:
        rng = random.Random(f"{seed}:{step}")
        batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
        chunk, ids, mask, labels = (x.to(dev) for x in batch_tensors(batch, cfg))
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / warmup)
        loss = torch.zeros((), device=dev)
        for form in forms:
            part = answer_loss(model, chunk, ids, mask, labels, form, cfg)
            v = part.item()
            losses[form] = 0.98 * losses.get(form, v) + 0.02 * v
            loss = loss + part / len(forms)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 20 == 0:
            print(f"step {step} {time.time() - t0:.0f}s " + " ".join(f"{k} {v:.3f}" for k, v in losses.items()), file=sys.stderr)
        if time.time() - last_save > 120:
            save_ckpt(ckpt, model, opt, step, time.time() - t0, cfg)
            last_save = time.time()
    seconds = time.time() - t0
    save_ckpt(ckpt, model, opt, step, seconds, cfg)
    torch.save(model.state_dict(), run / "model.pt")
    info = {"config": asdict(cfg), "steps": step, "seconds": round(seconds, 1), "batch_size": batch_size, "lr": lr,
            "forms": list(forms), "examples": step * batch_size, "train_windows": len(rows),
            "epochs": round(step * batch_size / max(1, len(rows)), 2), "loss": {k: round(v, 4) for k, v in losses.items()}}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def load_run(run: Path):
    info = json.loads((run / "train.json").read_text())
    cfg = BeaconConfig(**info["config"])
    model = build_model(cfg)
    model.load_state_dict(torch.load(run / "model.pt", map_location="cpu"))
    model.eval()
    return model, cfg


@torch.no_grad()
def evaluate(data: Path, run: Path, split: str = "test", limit: int = 300, forms: tuple[str, ...] = (*FORMS, "none")) -> dict:
    """Exact match of the greedy answer per form, and the reasoner's cost: prefix length it attends
    to, ms to build the block's prefix (once per block, cacheable), ms per question after it."""
    from tokenizers import Tokenizer

    model, cfg = load_run(run)
    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    rows = load_jsonl(data / f"{split}.jsonl")[:limit]
    report: dict = {"split": split, "windows": len(rows), "ratio": cfg.ratio, "chunk_tokens": cfg.chunk_tokens, "forms": {}}
    for form in forms:
        hits, by_kind, prefix_ms, ask_ms, new_tokens, prefix_len = 0, {}, 0.0, 0.0, 0, 0
        for r in rows:
            t0 = time.perf_counter()
            prefix = None if form == "none" else chunk_states(model, torch.tensor([r["chunk"]]), form, cfg)
            t1 = time.perf_counter()
            out = greedy(model, prefix, r["question"], cfg)
            t2 = time.perf_counter()
            ok = normalize(tok.decode(out)) == normalize(r["answer_text"])
            hits += ok
            k = by_kind.setdefault(r["kind"], [0, 0])
            k[0] += ok
            k[1] += 1
            prefix_ms += (t1 - t0) * 1000
            ask_ms += (t2 - t1) * 1000
            new_tokens += len(out) + 1
            prefix_len = prefix[0][0].shape[2] if prefix else 0
        n = max(1, len(rows))
        report["forms"][form] = {
            "exact_match": round(hits / n, 4), "by_kind": {k: f"{a}/{b}" for k, (a, b) in sorted(by_kind.items())},
            "prefix_tokens": prefix_len, "prefix_ms": round(prefix_ms / n, 2), "question_ms": round(ask_ms / n, 2),
            "decode_tokens_per_s": round(new_tokens / max(1e-9, ask_ms / 1000), 1)}
        print(form, json.dumps(report["forms"][form]), file=sys.stderr)
    (run / f"eval-{split}.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


# ---------------------------------------------------------------- export


def export(model, cfg: BeaconConfig, tokenizer: Path, out: Path) -> None:
    """ONNX in the Optimum layout with past key values, plus beacon.json (what the engine needs
    beyond a plain decoder: the beacon id, the ratio, the prompt's marker ids)."""
    from .fixture_reasoner import export as export_decoder

    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(out)
    if tokenizer.resolve() != (out / "tokenizer.json").resolve():
        shutil.copy(tokenizer, out / "tokenizer.json")
    (out / "generation_config.json").write_text(json.dumps(
        {"eos_token_id": cfg.eos_id, "pad_token_id": cfg.pad_id, "do_sample": False, "max_new_tokens": A_MAX}, indent=2) + "\n")
    (out / "beacon.json").write_text(json.dumps(
        {"token": BEACON, "token_id": cfg.beacon_id, "ratio": cfg.ratio, "chunk_tokens": cfg.chunk_tokens,
         "question_id": cfg.question_id, "answer_id": cfg.answer_id, "eos_id": cfg.eos_id,
         "question_max_tokens": Q_MAX, "answer_max_tokens": A_MAX}, indent=2) + "\n")
    export_decoder(model, out, nopast=False, quantize=False)


# ---------------------------------------------------------------- tiny fixture


TINY_QA = [  # (chunk text, question, answer) on the fixture tokenizer's toy corpus
    ("def add(a, b):\n    return a + b\n", "which function?", "add"),
    ("def sub(a, b):\n    return a - b\n", "which function?", "sub"),
    ("def mul(a, b):\n    return a * b\n", "which function?", "mul"),
    ("class Store:\n    def get(self, key):\n", "which class?", "Store"),
    ("import os\nimport sys\n\nprint(os.getcwd())\n", "which module?", "os"),
    ("for i in range(10):\n    print(i)\n", "which call?", "print"),
]


def tiny_rows(tok, n: int) -> list[dict]:
    rows = []
    for i, (text, q, a) in enumerate(TINY_QA):
        ids = (tok.encode(text).ids * 4)[:n]
        rows.append({"id": str(i), "kind": "toy", "chunk": ids, "question": tok.encode(q).ids,
                     "answer": tok.encode(a).ids, "answer_text": a})
    return rows


def states_json(states: States) -> dict:
    """[layers, 2, kv_heads, m, head_dim] of one block, flattened row-major."""
    t = torch.stack([torch.stack([k[0], v[0]]) for k, v in states])
    return {"dims": list(t.shape), "data": [round(float(x), 6) for x in t.flatten()]}


def build_tiny(out: Path, train_steps: int = 400, ratio: int = 4, chunk_tokens: int = 22) -> dict:
    """A tiny beacon model (Qwen2, hidden 32, 2 layers) in the export layout, plus reference.json:
    PyTorch beacon states of two chunks and greedy answers after one and after both blocks."""
    from .fixture_reasoner import train_tokenizer

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    train_tokenizer(out)  # writes tokenizer.json and tokenizer_config.json
    (out / "tokenizer_config.json").unlink()
    tok = load_tokenizer(out / "tokenizer.json", (BEACON, QUESTION, ANSWER))
    tok.save(str(out / "tokenizer.json"))
    cfg = config_for(tok, ratio=ratio, chunk_tokens=chunk_tokens, d_model=32, layers=2, heads=4, kv_heads=2, ffn=64,
                     max_positions=128)
    data = out / "data"
    data.mkdir()
    rows = tiny_rows(tok, chunk_tokens)
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    info = train(data, data / "run", cfg, budget_s=600, steps=train_steps, batch_size=6, lr=1e-2)
    model, cfg = load_run(data / "run")
    export(model, cfg, out / "tokenizer.json", out)
    shutil.rmtree(data)
    blocks = [chunk_states(model, torch.tensor([r["chunk"]]), "latent", cfg) for r in rows[:2]]
    cases = []
    with torch.no_grad():
        for use in ([0], [1], [0, 1]):
            prefix = concat_states([blocks[i] for i in use])
            ans = greedy(model, prefix, rows[use[-1]]["question"], cfg, max_new=6)
            cases.append({"blocks": use, "question": TINY_QA[use[-1]][1], "question_ids": rows[use[-1]]["question"],
                          "greedy_ids": ans, "greedy_text": tok.decode(ans)})
    ref = {"ratio": ratio, "beacon_id": cfg.beacon_id, "train_loss": info["loss"],
           "blocks": [{"text": TINY_QA[i][0], "chunk_ids": rows[i]["chunk"],
                       "interleaved": interleave(rows[i]["chunk"], ratio, cfg.beacon_id)[0], "states": states_json(b)}
                      for i, b in enumerate(blocks)],
           "cases": cases}
    (out / "reference.json").write_text(json.dumps(ref) + "\n")
    (out / "README.md").write_text(
        "# tiny-beacon (test fixture)\n\nA 2-layer Qwen2 decoder (hidden 32) with a `<|beacon|>` token, trained a few steps "
        "end to end through beacon states, for the latent-memory tests. Not a useful model.\n"
        "Regenerate: `cd training && .venv/bin/python -m engram_training.beacon fixture --tiny`.\n")
    return ref


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="engram_training.beacon", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--out", type=Path, default=Path(".data/beacon"))
    d.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    d.add_argument("--chunk-tokens", type=int, default=64)
    t = sub.add_parser("train", help="train end to end (resumes from RUN/ckpt.pt)")
    t.add_argument("--data", type=Path, default=Path(".data/beacon"))
    t.add_argument("--out", type=Path, default=Path(".data/beacon/run"))
    t.add_argument("--budget-s", type=float, default=900)
    t.add_argument("--steps", type=int, default=100000)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--ratio", type=int, default=4, choices=range(4, 17), metavar="4..16")
    t.add_argument("--d-model", type=int, default=128)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--forms", default=",".join(FORMS))
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    e = sub.add_parser("eval")
    e.add_argument("--data", type=Path, default=Path(".data/beacon"))
    e.add_argument("--run", type=Path, default=Path(".data/beacon/run"))
    e.add_argument("--split", default="test")
    e.add_argument("--limit", type=int, default=300)
    x = sub.add_parser("export")
    x.add_argument("--data", type=Path, default=Path(".data/beacon"))
    x.add_argument("--run", type=Path, default=Path(".data/beacon/run"))
    x.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("fixture", help="the tiny test fixture with its PyTorch reference")
    f.add_argument("--tiny", action="store_true", required=True)
    f.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "test/fixtures/tiny-beacon")
    a = ap.parse_args(argv)
    # One intra-op thread: on a shared CPU, more threads spin against each other (20x slower here under load).
    torch.set_num_threads(a.threads)
    if a.cmd == "data":
        print(json.dumps(build_data(a.corpus, a.qa, a.out, a.tokenizer, a.chunk_tokens)))
    elif a.cmd == "train":
        forms = tuple(s for s in a.forms.split(",") if s)
        if not forms or any(s not in FORMS for s in forms):
            ap.error(f"--forms takes a comma list of {', '.join(FORMS)}")
        if not (a.data / "train.jsonl").is_file():
            ap.error(f"{a.data}/train.jsonl not found: run `beacon data` first")
        tok = load_tokenizer(a.data / "tokenizer.json")
        n = json.loads((a.data / "data.json").read_text())["chunk_tokens"]
        cfg = config_for(tok, ratio=a.ratio, chunk_tokens=n, d_model=a.d_model, layers=a.layers, ffn=3 * a.d_model)
        print(json.dumps(train(a.data, a.out, cfg, a.budget_s, a.steps, a.batch_size, a.lr, forms, a.seed, a.device)))
    elif a.cmd == "eval":
        print(json.dumps(evaluate(a.data, a.run, a.split, a.limit)))
    elif a.cmd == "export":
        model, cfg = load_run(a.run)
        export(model, cfg, a.data / "tokenizer.json", a.out)
        print(f"wrote {a.out}", file=sys.stderr)
    else:
        ref = build_tiny(a.out)
        print(json.dumps({"out": str(a.out), "cases": ref["cases"], "train_loss": ref["train_loss"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
