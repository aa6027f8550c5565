"""The generative reasoner: a small Qwen2 decoder (transformers, built from a config, no
download) with the engram BPE tokenizer, trained from scratch to answer code questions
in the engine's own prompt format (src/core/reason/prompts.ts, plain format: the
system text, the user text and the reply prefix, a blank line apart).

    python -m engram_training.generative data   --corpus .data/corpus --qa .data/qa --out .data/generative
    python -m engram_training.generative train  --data .data/generative --out .data/generative/run --budget-s 1200
    python -m engram_training.generative rl     --data .data/generative --init .data/generative/run --out .data/generative/rl
    python -m engram_training.generative eval   --run .data/generative/run --reader-data .data/reader2
    python -m engram_training.generative export --run .data/generative/run --out DIR

Examples (one question, one window of whole source lines, `N| line` under a
`--- path:a-b` header, as the engine shows code):
- answer: the ANSWER prompt with the window as code -> ` ANSWER\\nCITATIONS: path:L` (the
  QA answer and the line that shows it) or ` not found` (a window without the answer, or an
  unanswerable question);
- read: the READ prompt -> `path:L: <line>\\nSTATUS: found`, or `STATUS: continue`;
- notes: the ANSWER prompt with the read's notes and no code -> the same answer.
Curriculum: contexts of at most 256, then 512, then 1024 tokens (`--stages`). Loss: mean
token cross-entropy over the whole sequence (language modelling) plus `--answer-weight` x
the mean over the completion's tokens.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .reader import DEFAULT_TOKENIZER, find_in_line, normalize, score_questions, target_text, tune_thresholds
from .reader_rl import RewardWeights
from .runs import load_jsonl, pick_device

# ---------------------------------------------------------------- prompts (identical to src/core/reason/prompts.ts)

FOUND = "STATUS: found"
CONTINUE = "STATUS: continue"
READ_SYSTEM = (
    "You answer questions about a code repository by reading it one block at a time. "
    "Lines look like `12| code`: 12 is the line number in the file named above the block. "
    "Keep short notes: the facts that help answer the question, each with path:line. "
    f'Drop what does not help. End with "{FOUND}" when the notes answer the question, else "{CONTINUE}".')
ANSWER_SYSTEM = (
    "You answer questions about a code repository from your notes and the code shown. "
    'Reply with one line "ANSWER: <short answer>" (a name, value or path; "not found" when the code does not say), '
    'then one line "CITATIONS: path:start-end, ..." naming the lines that show it.')
NOT_FOUND = "not found"


def code_view(path: str, start: int, lines: list[str]) -> str:
    """A block as the engine's code slot shows it (codeHeader + `N| line`)."""
    body = "\n".join(f"{start + i}| {l}" for i, l in enumerate(lines))
    return f"--- {path}:{start}-{start + len(lines) - 1}\n{body}"


def read_prompt(question: str, memory: str, code: str) -> str:
    user = f"Question: {question}\n\nNotes so far:\n{memory or '(none)'}\n\nCode:\n{code}\n\nRewrite the notes."
    return f"{READ_SYSTEM}\n\n{user}\n\nNotes:\n"


def answer_prompt(question: str, memory: str, code: str) -> str:
    """`code` as the engine's answer step joins blocks: each view plus a newline."""
    user = f"Question: {question}\n\nNotes:\n{memory or '(none)'}" + (f"\n\nCode:\n{code}" if code else "") + "\n\nAnswer the question."
    return f"{ANSWER_SYSTEM}\n\n{user}\n\nANSWER:"


def answer_completion(answer: str | None, path: str = "", line: int = 0) -> str:
    return f" {NOT_FOUND}" if answer is None else f" {answer}\nCITATIONS: {path}:{line}"


def parse_answer(text: str) -> tuple[str, list[tuple[str, int, int]]]:
    """(answer, citations) as src/core/reason/parse.ts reads a reply after `ANSWER:`."""
    import re
    body = re.sub(r"^\s*ANSWER:\s*", "", text, flags=re.I)
    m = re.search(r"^\s*CITATIONS?:", body, flags=re.I | re.M)
    ans_part, cite_part = (body[:m.start()], body[m.start():]) if m else (body, "")
    answer = next((l.strip() for l in ans_part.split("\n") if l.strip()), "")
    cites = []
    for c in re.finditer(r"((?:[\w@.-]+/)*[\w@.-]*[./][\w@.-]+):(\d+)(?:\s*[-–]\s*(\d+))?", cite_part + "\n" + answer):
        a, b = int(c.group(2)), int(c.group(3) or c.group(2))
        if a >= 1:
            cites.append((c.group(1).removeprefix("./"), min(a, b), max(a, b)))
    return answer, cites


# ---------------------------------------------------------------- tokenizer and model


class GenTokenizer:
    """The engram tokenizer as the engine encodes a plain prompt (no post-processor: nothing added)."""

    def __init__(self, path: Path = DEFAULT_TOKENIZER) -> None:
        from tokenizers import Tokenizer
        self.path = Path(path)
        self.tok = Tokenizer.from_file(str(path))
        self.eos = self.tok.token_to_id("</s>")
        self.pad = self.tok.token_to_id("<pad>")
        self.vocab = self.tok.get_vocab_size()
        self._counts: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def count(self, text: str) -> int:
        """Tokens of `text`, cached (windows are cut from the same files many times)."""
        n = self._counts.get(text)
        if n is None:
            n = len(self.encode(text))
            if len(self._counts) < 1_000_000:
                self._counts[text] = n
        return n

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode([i for i in ids if i != self.eos], skip_special_tokens=False)

    def hf(self):
        """A transformers tokenizer over the same file (TRL's processing class)."""
        from transformers import PreTrainedTokenizerFast
        return PreTrainedTokenizerFast(tokenizer_file=str(self.path), eos_token="</s>", pad_token="<pad>",
                                       bos_token=None, padding_side="left")


@dataclass
class GenConfig:
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 768
    max_len: int = 1024
    vocab: int = 12000


def build_model(c: GenConfig, eos: int, pad: int, seed: int = 0):
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(vocab_size=c.vocab, hidden_size=c.hidden, intermediate_size=c.intermediate,
                      num_hidden_layers=c.layers, num_attention_heads=c.heads, num_key_value_heads=c.kv_heads,
                      max_position_embeddings=c.max_len, tie_word_embeddings=True, bos_token_id=None,
                      eos_token_id=eos, pad_token_id=pad, rope_theta=10000.0)
    cfg._attn_implementation = "eager"  # traces to plain ONNX ops; sdpa gives the same numbers
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(cfg)


def load_model(run: Path, device: str = "cpu"):
    from transformers import Qwen2ForCausalLM
    model = Qwen2ForCausalLM.from_pretrained(str(run / "model"), attn_implementation="eager")
    return model.to(device).eval()


# ---------------------------------------------------------------- data


def _answer_line(q: dict, lines_of: dict[str, list[str]]) -> tuple[str, int] | None:
    """The first evidence line holding the answer (as the reader labels its span)."""
    target = target_text(q)
    for ev in q["evidence"]:
        src = lines_of.get(ev["path"], [])
        for n in range(ev["startLine"], ev["endLine"] + 1):
            if n - 1 < len(src) and find_in_line(src[n - 1], target or ""):
                return ev["path"], n
    return None


def _window(rng: random.Random, tok: GenTokenizer, src: list[str], anchor: int, budget: int) -> tuple[int, list[str]]:
    """Whole lines around `anchor` (0-based) of at most `budget` tokens (line number and `| ` included)."""
    cost = lambda k: tok.count(src[k][:400]) + 3  # noqa: E731
    lo = hi = anchor
    used = cost(anchor)
    before = rng.random() * budget
    while lo > 0 and used + cost(lo - 1) <= min(budget, before + cost(anchor)):
        lo -= 1
        used += cost(lo)
    while hi + 1 < len(src) and used + cost(hi + 1) <= budget:
        hi += 1
        used += cost(hi)
    while lo > 0 and used + cost(lo - 1) <= budget:
        lo -= 1
        used += cost(lo)
    return lo + 1, [l[:400] for l in src[lo:hi + 1]]


def _fits(tok: GenTokenizer, prompt: str, completion: str, max_len: int) -> bool:
    return len(tok.encode(prompt)) + len(tok.encode(completion)) + 1 <= max_len


def examples_for(q: dict, ctx: dict, lines_of: dict[str, list[str]], tok: GenTokenizer, rng: random.Random,
                 max_len: int, tasks: bool = True) -> list[dict]:
    """Examples of one question at one context length (see the module docstring); with
    tasks=False only the answer examples (held-out rows)."""
    hit = _answer_line(q, lines_of) if q["kind"] != "unanswerable" else None
    if q["kind"] != "unanswerable" and hit is None:
        return []
    frame = len(tok.encode(answer_prompt(q["question"], "", "x"))) + 24
    budget = max(32, max_len - frame)
    target = target_text(q)
    out: list[dict] = []
    base = {"qid": q["id"], "kind": q["kind"], "max_len": max_len}
    windows: list[tuple[str, int, list[str], bool]] = []  # path, start, lines, holds the answer
    if hit:
        path, line = hit
        start, lines = _window(rng, tok, lines_of[path], line - 1, budget)
        windows.append((path, start, lines, True))
    others = [p for p in ctx["files"] if p in lines_of and lines_of[p] and (not hit or p != hit[0])]
    if others and (not hit or rng.random() < 0.6):
        p = rng.choice(others)
        start, lines = _window(rng, tok, lines_of[p], rng.randrange(len(lines_of[p])), budget)
        if target is None or not any(find_in_line(l, target) for l in lines):
            windows.append((p, start, lines, False))
    for path, start, lines, holds in windows:
        code = code_view(path, start, lines)
        comp = answer_completion(q["answer"], *hit) if holds and hit else answer_completion(None)
        ev = [[e["path"], e["startLine"], e["endLine"]] for e in q["evidence"]] if holds else []
        ex = dict(base, task="answer", prompt=answer_prompt(q["question"], "", code + "\n"), completion=comp,
                  answer=q["answer"] if holds else None, path=hit[0] if holds and hit else None,
                  line=hit[1] if holds and hit else None, evidence=ev)
        if _fits(tok, ex["prompt"], comp, max_len):
            out.append(ex)
        if not tasks or rng.random() > 0.5:
            continue
        if holds and hit:
            note = f"{hit[0]}:{hit[1]}: {lines_of[hit[0]][hit[1] - 1].strip()[:120]}"
            read = dict(base, task="read", prompt=read_prompt(q["question"], "", code), completion=f"{note}\n{FOUND}")
            notes = dict(base, task="notes", prompt=answer_prompt(q["question"], note, ""), completion=comp)
            out += [e for e in (read, notes) if _fits(tok, e["prompt"], e["completion"], max_len)]
        else:
            read = dict(base, task="read", prompt=read_prompt(q["question"], "", code), completion=CONTINUE)
            if _fits(tok, read["prompt"], read["completion"], max_len):
                out.append(read)
    return out


def build_data(corpus: Path, qa: Path, out: Path, tokenizer: Path = DEFAULT_TOKENIZER, stages: tuple[int, ...] = (256, 512, 1024),
               seed: int = 0, max_questions: int = 100000, log=None) -> dict:
    """`out/train.jsonl` (every task, each stage's length) and `out/{validation,test}.jsonl`
    (answer examples at the longest length), from the QA generator's questions and contexts."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    tok = GenTokenizer(tokenizer)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    for split in ("train", "validation", "test"):
        t0 = time.time()
        contexts = {c["id"]: c for c in load_jsonl(qa / split / "contexts.jsonl")}
        qs = [q for q in load_jsonl(qa / split / "qa.jsonl")
              if q["context"] in contexts and contexts[q["context"]].get("size_class") != "repo"]
        rng.shuffle(qs)
        qs = qs[:max_questions]
        files: dict[tuple[str, str], list[str]] = {}
        rows: list[dict] = []
        for n, q in enumerate(qs):
            ctx = contexts[q["context"]]
            lines_of = {}
            for p in ctx["files"]:
                key = (ctx["repo"], p)
                if key not in files:
                    f = corpus / "repos" / ctx["repo"] / p
                    files[key] = f.read_text("utf-8", "replace").split("\n") if f.is_file() else []
                lines_of[p] = files[key]
            lens = stages if split == "train" else stages[-1:]
            for L in lens:
                rows += examples_for(q, ctx, lines_of, tok, rng, L, tasks=split == "train")
            if n % 1000 == 999:
                say(f"generative data {split}: {n + 1}/{len(qs)} questions, {len(rows)} examples")
        rng.shuffle(rows)
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        by: dict[str, int] = {}
        for r in rows:
            by[f"{r['task']}@{r['max_len']}"] = by.get(f"{r['task']}@{r['max_len']}", 0) + 1
        stats[split] = {"questions": len(qs), "examples": len(rows), "by_task": dict(sorted(by.items()))}
        say(f"generative data {split}: {stats[split]} ({time.time() - t0:.0f}s)")
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


# ---------------------------------------------------------------- training


@dataclass
class TrainConfig:
    budget_s: float = 1200.0
    max_steps: int = 1_000_000
    stages: str = "256:0.35,512:0.35,1024:0.3"  # context length : share of the budget
    batch_tokens: int = 8192
    lr: float = 1e-3
    warmup: int = 50
    answer_weight: float = 1.0
    seed: int = 0
    ckpt_every_s: float = 120.0
    log_every: int = 20


def parse_stages(s: str) -> list[tuple[int, float]]:
    out = [(int(a), float(b)) for a, b in (p.split(":") for p in s.split(",") if p)]
    total = sum(b for _, b in out)
    return [(a, b / total) for a, b in out]


def encode_example(tok: GenTokenizer, ex: dict) -> tuple[list[int], int]:
    """Token ids (prompt + completion + eos) and where the completion starts."""
    p = tok.encode(ex["prompt"])
    return p + tok.encode(ex["completion"]) + [tok.eos], len(p)


def batch_tensors(tok: GenTokenizer, exs: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ids, attention mask and completion mask [B,T], right-padded."""
    enc = [encode_example(tok, e) for e in exs]
    t = max(len(i) for i, _ in enc)
    ids = torch.full((len(enc), t), tok.pad, dtype=torch.long)
    mask = torch.zeros((len(enc), t), dtype=torch.long)
    comp = torch.zeros((len(enc), t), dtype=torch.bool)
    for r, (i, c) in enumerate(enc):
        ids[r, :len(i)] = torch.tensor(i)
        mask[r, :len(i)] = 1
        comp[r, c:len(i)] = True
    return ids, mask, comp


def loss_fn(model, ids: torch.Tensor, mask: torch.Tensor, comp: torch.Tensor, answer_weight: float) -> tuple[torch.Tensor, float, float]:
    """LM loss on every real token + answer_weight x loss on the completion's tokens."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    tgt = ids[:, 1:]
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tgt.reshape(-1), reduction="none").view(tgt.shape)
    real = mask[:, 1:].bool()
    ans = comp[:, 1:] & real
    lm = ce[real].mean()
    al = ce[ans].mean() if ans.any() else ce.new_zeros(())
    return lm + answer_weight * al, lm.item(), al.item()


def _stage_at(stages: list[tuple[int, float]], frac: float) -> int:
    acc = 0.0
    for L, share in stages:
        acc += share
        if frac < acc:
            return L
    return stages[-1][0]


def train(data: Path, run: Path, mc: GenConfig | None = None, tc: TrainConfig | None = None, tokenizer: Path = DEFAULT_TOKENIZER,
          device: str = "auto", log=None) -> dict:
    """Trains (or resumes from run/ckpt.pt) until the time budget or max_steps; writes run/model
    (save_pretrained) and run/train.json."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    mc, tc = mc or GenConfig(), tc or TrainConfig()
    tok = GenTokenizer(tokenizer)
    mc.vocab = tok.vocab
    dev = pick_device(device)
    run.mkdir(parents=True, exist_ok=True)
    rows = load_jsonl(data / "train.jsonl")
    stages = parse_stages(tc.stages)
    pools = {L: [r for r in rows if r["max_len"] == L] for L, _ in stages}
    for L, pool in pools.items():
        if not pool:
            raise ValueError(f"no training examples of length {L} in {data}/train.jsonl (built with other --stages?)")
    model = build_model(mc, tok.eos, tok.pad, tc.seed).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=0.01, betas=(0.9, 0.95))
    settings = {"model": asdict(mc), "train": {k: v for k, v in asdict(tc).items() if k not in ("budget_s", "max_steps", "ckpt_every_s", "log_every")}}
    step, seconds, history = 0, 0.0, []
    ck = run / "ckpt.pt"
    if ck.exists():
        saved = torch.load(ck, map_location=dev, weights_only=False)
        if saved["settings"] != settings:
            raise ValueError(f"{ck} was written with other settings; use another --out or remove it")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        step, seconds, history = saved["step"], saved["seconds"], saved["history"]
        say(f"resumed at step {step} ({seconds:.0f}s)")
    n_params = sum(p.numel() for p in model.parameters())
    say(f"generative train: {n_params / 1e6:.2f}M parameters, {len(rows)} examples, stages {stages}, device {dev}")

    def save() -> None:
        tmp = ck.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds,
                    "history": history, "settings": settings}, tmp)
        tmp.replace(ck)

    model.train()
    t_start, last_ck = time.time() - seconds, time.time()
    tokens_seen = sum(h["tokens"] for h in history)
    window: list[tuple[float, float, int, float]] = []
    while step < tc.max_steps and seconds < tc.budget_s:
        L = _stage_at(stages, seconds / tc.budget_s)
        pool = pools[L]
        bs = max(1, tc.batch_tokens // L)
        g = random.Random(tc.seed * 1_000_003 + step)
        exs = [pool[g.randrange(len(pool))] for _ in range(bs)]
        ids, mask, comp = (t.to(dev) for t in batch_tensors(tok, exs))
        lr = tc.lr * min(1.0, (step + 1) / tc.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, seconds / tc.budget_s))))
        for grp in opt.param_groups:
            grp["lr"] = lr
        t0 = time.time()
        loss, lm, al = loss_fn(model, ids, mask, comp, tc.answer_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        n_tok = int(mask.sum())
        tokens_seen += n_tok
        window.append((lm, al, n_tok, time.time() - t0))
        seconds = time.time() - t_start
        if step % tc.log_every == 0 or seconds >= tc.budget_s or step >= tc.max_steps:
            lm_m = float(np.mean([w[0] for w in window]))
            al_m = float(np.mean([w[1] for w in window]))
            tps = sum(w[2] for w in window) / max(1e-9, sum(w[3] for w in window))
            history.append({"step": step, "seconds": round(seconds, 1), "len": L, "lm": round(lm_m, 4), "answer": round(al_m, 4),
                            "tokens": sum(w[2] for w in window), "tokens_per_s": round(tps)})
            window = []
            say(f"step {step} len {L} lm {lm_m:.3f} answer {al_m:.3f} {tps:.0f} tok/s lr {lr:.2e} {seconds:.0f}/{tc.budget_s:.0f}s")
        if time.time() - last_ck > tc.ckpt_every_s:
            save()
            last_ck = time.time()
    save()
    model.eval()
    model.save_pretrained(str(run / "model"))
    info = {"parameters": n_params, "steps": step, "seconds": round(seconds, 1), "tokens": tokens_seen,
            "device": str(dev), "settings": settings, "history": history, "examples": len(rows)}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ---------------------------------------------------------------- decoding and evaluation


@torch.no_grad()
def generate(model, tok: GenTokenizer, prompt_ids: list[int], max_new: int = 32) -> tuple[list[int], float]:
    """Greedy decoding through the KV cache; (new ids without eos, mean log-probability of them)."""
    from transformers import DynamicCache
    dev = next(model.parameters()).device
    past = DynamicCache(config=model.config)
    ids = torch.tensor([prompt_ids[-model.config.max_position_embeddings + max_new:]], device=dev)
    out: list[int] = []
    lps: list[float] = []
    pos = 0
    for _ in range(max_new):
        n = ids.shape[1]
        res = model(input_ids=ids, past_key_values=past, use_cache=True,
                    position_ids=torch.arange(pos, pos + n, device=dev)[None])
        pos += n
        lp = torch.log_softmax(res.logits[0, -1].float(), -1)
        nxt = int(lp.argmax())
        lps.append(float(lp[nxt]))
        if nxt == tok.eos:
            break
        out.append(nxt)
        past = res.past_key_values
        ids = torch.tensor([[nxt]], device=dev)
    return out, float(np.mean(lps)) if lps else 0.0


def row_prompt(r: dict) -> str:
    """The answer prompt for one of the reader's held-out rows (one window of a block)."""
    return answer_prompt(r["question"], r.get("memory", ""), code_view(r["path"], r["startLine"], r["lines"]) + "\n")


def predict_rows(model, tok: GenTokenizer, rows: list[dict], max_new: int = 32, log=None) -> list[dict]:
    """Predictions in the reader's format (reader.score_questions reads them): the answer with its
    first cited line and score exp(mean log-prob), noAnswer 1 for "not found" (or no answer)."""
    say = log or (lambda m: None)
    preds = []
    t0 = time.time()
    for i, r in enumerate(rows):
        ids, lp = generate(model, tok, tok.encode(row_prompt(r)), max_new)
        text, cites = parse_answer(tok.decode(ids))
        cite = next(((a, b) for p, a, b in cites if p == r["path"]), None) or (cites[0][1:] if cites else None)
        none = not text or normalize(text).lower() == NOT_FOUND
        ans = None if none else {"text": text, "startLine": cite[0] if cite else -1, "endLine": cite[1] if cite else -1,
                                 "score": math.exp(lp)}
        preds.append({"answer": ans, "noAnswer": 1.0 if none else 0.0, "keep": {}, "raw": tok.decode(ids)})
        if i % 50 == 49:
            say(f"  {i + 1}/{len(rows)} rows ({(time.time() - t0) / (i + 1):.2f} s/row)")
    return preds


def as_generative_rows(rows: list[dict]) -> list[dict]:
    """The reader's rows with the QA answer as the expected text: for "where is X defined" the
    generative reasoner answers the path (on X's definition line); the reader points at X."""
    out = []
    for r in rows:
        if r["kind"] == "definition" and r["target"]:
            r = dict(r, targetText=r["path"])
        out.append(r)
    return out


def first_questions(rows: list[dict], n: int | None) -> list[dict]:
    """The rows of the first n questions (rows of one question stay together)."""
    if n is None:
        return rows
    keep: list[str] = []
    for r in rows:
        if r["qid"] not in keep:
            if len(keep) == n:
                continue
            keep.append(r["qid"])
    ks = set(keep)
    return [r for r in rows if r["qid"] in ks]


def evaluate(run: Path, reader_data: Path, tokenizer: Path = DEFAULT_TOKENIZER, questions: int | None = 150,
             reader_onnx: Path | None = None, log=None) -> dict:
    """Question-level accuracy by kind on the reader's held-out windows (validation tunes the
    answer rule, test is reported), for this model and, on the same rows, the extractive reader."""
    from . import reader as rd
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    tok = GenTokenizer(tokenizer)
    model = load_model(run)
    rows = {s: first_questions(load_jsonl(reader_data / f"{s}.jsonl"), questions) for s in ("validation", "test")}
    gen = {}
    for s, rs in rows.items():
        say(f"generative eval {s}: {len(rs)} windows")
        gen[s] = (as_generative_rows(rs), predict_rows(model, tok, rs, log=say))
    th = tune_thresholds(*gen["validation"])
    report = {"questions_per_split": questions, "windows": {s: len(r) for s, r in rows.items()},
              "generative": {"thresholds": th, "test": score_questions(*gen["test"], th),
                             "validation": score_questions(*gen["validation"], th)},
              "examples": [{"question": r["question"], "expected": r["targetText"], "raw": p["raw"]}
                           for r, p in list(zip(*gen["test"]))[:12]]}
    if reader_onnx is not None:
        fwd = rd.onnx_forward(reader_onnx)
        enc = rd.ReaderEncoder(tokenizer)
        ex = {s: (rs, rd.run_windows(rd.eval_windows(enc, rs), fwd, questions=[r["question"] for r in rs]))
              for s, rs in rows.items()}
        rth = tune_thresholds(*ex["validation"])
        report["extractive"] = {"model": str(reader_onnx), "thresholds": rth, "test": score_questions(*ex["test"], rth),
                                "validation": score_questions(*ex["validation"], rth)}
    return report


# ---------------------------------------------------------------- RL (TRL's GRPO)


def gen_reward(completion: str, answer: str | None, path: str | None, line: int | None, evidence: list,
               n_tokens: int, max_tokens: int, wt: RewardWeights) -> dict[str, float]:
    """One reward, as the reader's RL: w_answer for the exact answer (normalised, reader.normalize)
    on a window that holds it, w_not_here for "not found" on one that does not; plus w_cite x IoU
    of the cited lines with the evidence lines (no citation where there is no evidence: IoU 1);
    minus w_token_cost x generated tokens / max_tokens."""
    text, cites = parse_answer(completion)
    if answer is None:
        ans = wt.not_here if normalize(text).lower() == NOT_FOUND else 0.0
    else:
        ans = wt.answer if normalize(text) == normalize(answer) else 0.0
    cited = {(p, n) for p, a, b in cites for n in range(a, min(b, a + 200) + 1)}
    gold = {(p, n) for p, a, b in evidence for n in range(a, b + 1)}
    union = cited | gold
    cite = wt.cite * (len(cited & gold) / len(union) if union else 1.0)
    cost = wt.token_cost * min(1.0, n_tokens / max(1, max_tokens))
    return {"total": ans + cite - cost, "answer": ans, "cite": cite, "cost": cost}


@dataclass
class RLConfig:
    steps: int = 8
    batch: int = 4  # prompts per step
    group: int = 4  # completions per prompt
    max_new: int = 24
    lr: float = 1e-5
    beta: float = 0.0
    max_len: int = 256  # prompts from the examples of this length (short contexts: fast on a CPU)
    eval_prompts: int = 32
    seed: int = 0


def rl_prompts(data: Path, split: str, max_len: int, n: int, seed: int) -> list[dict]:
    rows = [r for r in load_jsonl(data / f"{split}.jsonl") if r["task"] == "answer" and r["max_len"] <= max_len] \
        or [r for r in load_jsonl(data / f"{split}.jsonl") if r["task"] == "answer"]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def mean_reward(model, tok: GenTokenizer, rows: list[dict], rc: RLConfig, wt: RewardWeights) -> dict[str, float]:
    """Greedy completions' mean reward and its parts."""
    model.eval()
    parts = []
    for r in rows:
        ids, _ = generate(model, tok, tok.encode(r["prompt"]), rc.max_new)
        parts.append(gen_reward(tok.decode(ids), r["answer"], r["path"], r["line"], r["evidence"], len(ids), rc.max_new, wt))
    return {k: round(float(np.mean([p[k] for p in parts])), 4) for k in parts[0]} if parts else {}


def train_rl(data: Path, init: Path, out: Path, rc: RLConfig | None = None, wt: RewardWeights | None = None,
             tokenizer: Path = DEFAULT_TOKENIZER, log=None) -> dict:
    """A few GRPO steps with TRL's GRPOTrainer from the supervised run `init`; writes out/model and
    out/rl.json with the held-out mean reward (greedy) before and after."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    rc, wt = rc or RLConfig(), wt or RewardWeights()
    tok = GenTokenizer(tokenizer)
    torch.manual_seed(rc.seed)
    model = load_model(init)
    train_rows = rl_prompts(data, "train", rc.max_len, rc.steps * rc.batch, rc.seed)
    held = [r for r in load_jsonl(data / "validation.jsonl") if r["task"] == "answer"]
    random.Random(rc.seed).shuffle(held)
    held = held[:rc.eval_prompts]
    before = mean_reward(model, tok, held, rc, wt)
    say(f"GRPO: reward before {before}")

    def reward_fn(prompts, completions, completion_ids, answer, path, line, evidence, **_):
        return [gen_reward(c, a, p, l, json.loads(e), len(ids), rc.max_new, wt)["total"]
                for c, ids, a, p, l, e in zip(completions, completion_ids, answer, path, line, evidence)]

    ds = Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"], "path": r["path"], "line": r["line"],
                             "evidence": json.dumps(r["evidence"])} for r in train_rows])  # mixed types: JSON for arrow
    out.mkdir(parents=True, exist_ok=True)
    args = GRPOConfig(output_dir=str(out / "trl"), max_steps=rc.steps, per_device_train_batch_size=rc.batch * rc.group,
                      num_generations=rc.group, max_completion_length=rc.max_new, learning_rate=rc.lr, beta=rc.beta,
                      epsilon_high=0.28, use_cpu=not torch.cuda.is_available(), logging_steps=1, save_strategy="no",
                      report_to="none", seed=rc.seed, disable_dropout=True, temperature=1.0, bf16=False,
                      dataloader_num_workers=0)
    t0 = time.time()
    trainer = GRPOTrainer(model=model, reward_funcs=reward_fn, args=args, train_dataset=ds, processing_class=tok.hf())
    trainer.train()
    seconds = time.time() - t0
    model = trainer.model.eval()
    after = mean_reward(model, tok, held, rc, wt)
    say(f"GRPO: reward after {after} ({seconds:.0f}s)")
    model.save_pretrained(str(out / "model"))
    if (init / "train.json").exists():  # the supervised run's record: out/ is a run that export and eval read
        (out / "train.json").write_text((init / "train.json").read_text())
    logs = [{k: v for k, v in h.items() if k in ("step", "loss", "reward", "reward_std", "completions/mean_length")}
            for h in trainer.state.log_history]
    info = {"init": str(init), "rl": asdict(rc), "weights": asdict(wt), "seconds": round(seconds, 1),
            "reward_before": before, "reward_after": after, "heldout_prompts": len(held), "log": logs}
    (out / "rl.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ---------------------------------------------------------------- export


def _past_feeds(cfg: dict, length: int = 0) -> dict[str, np.ndarray]:
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    shape = (1, cfg["num_key_value_heads"], length, head_dim)
    return {f"past_key_values.{i}.{kv}": np.zeros(shape, np.float32)
            for i in range(cfg["num_hidden_layers"]) for kv in ("key", "value")}


def decoder_parity(model, onnx_path: Path, prompt_ids: list[int]) -> dict[str, float]:
    """Max |logit delta| of the ONNX graph against PyTorch: prefill from an empty past, then one
    decoding step through the present key/values of a prefill of all but the last token."""
    import onnxruntime as ort
    cfg = model.config.to_dict()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ids = np.array([prompt_ids], np.int64)
    n = ids.shape[1]
    with torch.no_grad():
        want = model(input_ids=torch.from_numpy(ids), use_cache=False).logits[0].float().numpy()
    feeds = {"input_ids": ids, "attention_mask": np.ones((1, n), np.int64),
             "position_ids": np.arange(n, dtype=np.int64)[None], **_past_feeds(cfg)}
    prefill = float(np.abs(sess.run(["logits"], feeds)[0][0] - want).max())
    feeds = {"input_ids": ids[:, :-1], "attention_mask": np.ones((1, n - 1), np.int64),
             "position_ids": np.arange(n - 1, dtype=np.int64)[None], **_past_feeds(cfg)}
    res = sess.run(None, feeds)
    step = {"input_ids": ids[:, -1:], "attention_mask": np.ones((1, n), np.int64), "position_ids": np.array([[n - 1]], np.int64)}
    for o, v in zip([o.name for o in sess.get_outputs()][1:], res[1:]):
        step[o.replace("present.", "past_key_values.")] = v
    decode = float(np.abs(sess.run(["logits"], step)[0][0, -1] - want[-1]).max())
    return {"prefill": prefill, "decode_step": decode}


def export(run: Path, out: Path, tokenizer: Path = DEFAULT_TOKENIZER, card: str | None = None) -> dict:
    """ONNX fp32 + int8 in the Optimum layout with past key values (fixture_reasoner.export),
    config, generation config, tokenizer, parity figures (export.json) and the card."""
    from .fixture_reasoner import export as export_decoder
    from .publish import copy_tokenizer
    tok = GenTokenizer(tokenizer)
    model = load_model(run)
    out.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(str(out))
    (out / "generation_config.json").write_text(json.dumps(
        {"eos_token_id": tok.eos, "pad_token_id": tok.pad, "do_sample": False, "max_new_tokens": 64}, indent=2) + "\n")
    copy_tokenizer(Path(tokenizer).parent, out)
    torch.manual_seed(0)
    export_decoder(model, out, nopast=False, quantize=True)
    probe = tok.encode(answer_prompt("What is the value of the constant `LIMIT`?", "",
                                     code_view("src/a.py", 3, ["import os", "LIMIT = 40", "def f(x):", "    return x"]) + "\n"))
    parity = {name: decoder_parity(model, out / "onnx" / f, probe)
              for name, f in (("fp32", "model.onnx"), ("int8", "model_quantized.onnx"))}
    if max(parity["fp32"].values()) > 1e-3:
        raise RuntimeError(f"ONNX fp32 logits differ from PyTorch: {parity['fp32']}")
    info = {"parity": parity, "parameters": sum(p.numel() for p in model.parameters()), "probe_tokens": len(probe)}
    (out / "export.json").write_text(json.dumps(info, indent=1) + "\n")
    if card:
        (out / "README.md").write_text(card)
    return info


def wins(report: dict) -> list[str]:
    """Answerable kinds on which the generative model's test accuracy beats the extractive
    reader's on the same rows ("not found" everywhere would win unanswerable for nothing)."""
    g, e = report["generative"]["test"]["by_kind"], report.get("extractive", {}).get("test", {}).get("by_kind", {})
    return [k for k, v in g.items() if k != "unanswerable" and k in e and v["accuracy"] > e[k]["accuracy"]]


def model_card(name: str, version: str, train_info: dict, export_info: dict, report: dict | None, rl_info: dict | None) -> str:
    """The model card: architecture, data, budget, parity, evaluation against the extractive reader."""
    s = train_info["settings"]
    m = s["model"]
    lines = [f"# {name} {version}", "",
             "Generative reasoner for Engram: a Qwen2 decoder trained from scratch by `training/` "
             "(`engram_training/generative.py`, issue 6) on the engine's own prompts (src/core/reason/prompts.ts).", "",
             f"- Architecture: Qwen2ForCausalLM, {m['layers']} layers, hidden {m['hidden']}, {m['heads']} heads "
             f"({m['kv_heads']} key/value heads), MLP {m['intermediate']}, tied embeddings, context {m['max_len']} tokens; "
             f"{export_info['parameters'] / 1e6:.2f}M parameters; engram-tokenizer (byte-level BPE, {m['vocab']}).",
             "- Files: `onnx/model.onnx` (fp32), `onnx/model_quantized.onnx` (int8 dynamic), Optimum layout with "
             "past key values (`input_ids, attention_mask, position_ids, past_key_values.N.key/value` -> "
             "`logits, present.N.key/value`).",
             "- ONNX vs PyTorch max |delta logit| (prefill from an empty past / one decoding step through the cache): "
             + ", ".join(f"{k} {v['prefill']:.2e} / {v['decode_step']:.2e}" for k, v in export_info["parity"].items()) + ".",
             "", "## Data and budget",
             f"{train_info['examples']} examples from the QA generator's train questions (train repositories only): "
             "answer (question + a window of numbered lines -> `ANSWER` + `CITATIONS: path:line`, or `not found`), "
             "read (-> a note `path:line: code` + `STATUS: found|continue`) and notes (answer from the note).",
             f"Curriculum {s['train']['stages']} (context length : share of the time budget); loss = LM loss on all tokens "
             f"+ {s['train']['answer_weight']} x the answer tokens' loss; AdamW lr {s['train']['lr']}, "
             f"{s['train']['batch_tokens']} tokens a batch.",
             f"Run: {train_info['steps']} steps, {train_info['tokens']:,} tokens, {train_info['seconds']:.0f} s on {train_info['device']} "
             "(the shared 2-core CPU, under nice, beside other training jobs). Loss (LM / answer) by logged step: "
             + ", ".join(f"{h['step']}@{h['len']}: {h['lm']:.2f}/{h['answer']:.2f}" for h in train_info["history"]) + "."]
    if rl_info:
        lines += ["", "## GRPO (TRL)",
                  f"{rl_info['rl']['steps']} steps of {rl_info['rl']['batch']} prompts x {rl_info['rl']['group']} completions "
                  f"({rl_info['seconds']:.0f} s). Greedy reward on {rl_info['heldout_prompts']} validation prompts "
                  f"before {rl_info['reward_before']} after {rl_info['reward_after']}."]
    if report:
        g, e = report["generative"]["test"], report.get("extractive", {}).get("test")
        lines += ["", "## Evaluation (held-out test windows of the reader, question level)",
                  f"{report['windows']['test']} test windows of {g['questions']} questions (thresholds from validation).", "",
                  "| kind | questions | generative | extractive reader |", "|---|---|---|---|"]
        for k, v in g["by_kind"].items():
            ex = e["by_kind"].get(k, {}).get("accuracy") if e else None
            lines.append(f"| {k} | {v['questions']} | {v['accuracy']:.2f} | {'' if ex is None else format(ex, '.2f')} |")
        lines.append(f"| all | {g['questions']} | {g['accuracy']:.2f} | {'' if not e else format(e['accuracy'], '.2f')} |")
    return "\n".join(lines) + "\n"


def publish(run: Path, models: Path, version: str, report: dict, rl_info: dict | None = None,
            tokenizer: Path = DEFAULT_TOKENIZER) -> dict:
    """Into models/engram-generative-VERSION with a manifest entry, only where it beats the
    extractive reader on some answerable kind of question (`wins`)."""
    from .publish import update_manifest
    won = wins(report)
    if not won:
        raise ValueError("the generative model beats the extractive reader on no kind of question: not published")
    name = f"engram-generative-{version}"
    out = models / name
    if out.exists():
        raise ValueError(f"{out} exists; choose another --version")
    train_info = json.loads((run / "train.json").read_text())
    info = export(run, out, tokenizer)
    (out / "README.md").write_text(model_card(name, version, train_info, info, report, rl_info))
    update_manifest(models / "manifest.json", {"name": name, "role": "reasoner", "version": version, "path": name,
                                               "eval": {"test": report["generative"]["test"], "wins": won,
                                                        "onnxParity": info["parity"]}}, models)
    return {"out": str(out), "wins": won}


# ---------------------------------------------------------------- throughput and CLI


def throughput(mc: GenConfig, length: int, batch: int, steps: int = 3, device: str = "cpu") -> float:
    """Training tokens per second (forward + backward + AdamW) for a model of this size."""
    model = build_model(mc, 2, 0).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(11, mc.vocab, (batch, length), device=device)
    mask = torch.ones_like(ids)
    comp = torch.zeros_like(ids, dtype=torch.bool)
    comp[:, -8:] = True
    loss_fn(model, ids, mask, comp, 1.0)[0].backward()
    t0 = time.time()
    for _ in range(steps):
        loss = loss_fn(model, ids, mask, comp, 1.0)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch * length / (time.time() - t0)


def _dc_args(p: argparse.ArgumentParser, cls, prefix: str = "") -> None:
    for f in cls.__dataclass_fields__.values():
        p.add_argument(f"--{prefix}{f.name.replace('_', '-')}", type=type(f.default), default=f.default)


def _dc_from(ns: argparse.Namespace, cls, prefix: str = ""):
    return cls(**{f: getattr(ns, prefix.replace("-", "_") + f) for f in cls.__dataclass_fields__})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.generative", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="examples from the QA generator's questions and contexts")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--out", type=Path, default=Path(".data/generative"))
    d.add_argument("--stages", default="256,512,1024")
    d.add_argument("--max-questions", type=int, default=100000)
    d.add_argument("--seed", type=int, default=0)
    t = sub.add_parser("train", help="supervised curriculum training (resumes from OUT/ckpt.pt)")
    t.add_argument("--data", type=Path, default=Path(".data/generative"))
    t.add_argument("--out", type=Path, default=Path(".data/generative/run"))
    t.add_argument("--device", default="auto")
    _dc_args(t, GenConfig)
    _dc_args(t, TrainConfig)
    s = sub.add_parser("speed", help="training tokens/s of a model size at a length")
    _dc_args(s, GenConfig)
    s.add_argument("--length", type=int, default=512)
    s.add_argument("--batch", type=int, default=8)
    r = sub.add_parser("rl", help="GRPO (TRL) from a supervised run")
    r.add_argument("--data", type=Path, default=Path(".data/generative"))
    r.add_argument("--init", type=Path, default=Path(".data/generative/run"))
    r.add_argument("--out", type=Path, default=Path(".data/generative/rl"))
    _dc_args(r, RLConfig)
    _dc_args(r, RewardWeights, "w-")
    e = sub.add_parser("eval", help="accuracy by kind on the reader's held-out windows, against the reader")
    e.add_argument("--run", type=Path, default=Path(".data/generative/run"))
    e.add_argument("--reader-data", type=Path, default=Path(".data/reader2"))
    e.add_argument("--reader-onnx", type=Path, default=Path(__file__).resolve().parents[2] / "models/reader-0.2.0/onnx/model.onnx")
    e.add_argument("--questions", type=int, default=150, help="questions per split (0: all)")
    x = sub.add_parser("export", help="ONNX fp32 + int8 with past key values, parity checked")
    x.add_argument("--run", type=Path, default=Path(".data/generative/run"))
    x.add_argument("--out", type=Path, help="folder to write (not with --publish)")
    x.add_argument("--publish", type=Path, metavar="MODELS",
                   help="into MODELS/engram-generative-VERSION + manifest, only if eval.json shows a win over the reader")
    x.add_argument("--version", default="0.1.0")
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if a.cmd == "data":
        res = build_data(a.corpus, a.qa, a.out, a.tokenizer, tuple(int(x) for x in a.stages.split(",")), a.seed, a.max_questions)
    elif a.cmd == "train":
        res = train(a.data, a.out, _dc_from(a, GenConfig), _dc_from(a, TrainConfig), a.tokenizer, a.device)
        res = {k: v for k, v in res.items() if k != "history"}
    elif a.cmd == "speed":
        mc = _dc_from(a, GenConfig)
        n = sum(p.numel() for p in build_model(mc, 2, 0).parameters())
        res = {"parameters": n, "length": a.length, "batch": a.batch, "tokens_per_s": round(throughput(mc, a.length, a.batch))}
    elif a.cmd == "rl":
        res = train_rl(a.data, a.init, a.out, _dc_from(a, RLConfig), _dc_from(a, RewardWeights, "w-"), a.tokenizer)
        res.pop("log", None)
    elif a.cmd == "eval":
        res = evaluate(a.run, a.reader_data, a.tokenizer, a.questions or None,
                       a.reader_onnx if a.reader_onnx and a.reader_onnx.exists() else None)
        (a.run / "eval.json").write_text(json.dumps(res, indent=1) + "\n")
    else:
        read = lambda f: json.loads((a.run / f).read_text()) if (a.run / f).exists() else None  # noqa: E731
        if a.publish:
            if read("eval.json") is None:
                ap.error(f"{a.run}/eval.json is missing: run `eval` first")
            res = publish(a.run, a.publish, a.version, read("eval.json"), read("rl.json"), a.tokenizer)
        elif a.out is None:
            ap.error("export needs --out DIR or --publish MODELS")
        else:
            res = export(a.run, a.out, a.tokenizer)
            if read("train.json"):
                (a.out / "README.md").write_text(model_card(a.out.name, a.version, read("train.json"), res,
                                                            read("eval.json"), read("rl.json")))
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
