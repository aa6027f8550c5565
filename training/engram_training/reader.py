"""The built-in extractive reasoner ("reader"): an encoder over (question, working memory,
block) with a start/end pointer head over the block's tokens (the answer span), a
no-answer head (this block does not hold the answer) and a per-token keep head, pooled
per line (lines worth keeping in the working memory: the evidence).

Input, one window of a block (the TypeScript runtime, src/core/models/extractive.ts,
builds exactly the same ids):

    <s> <question> Q(<=64) <memory> M(<=96) <block> PATH(<=24) <sep> LINE1 \\n LINE2 \\n ...

Each line is tokenized on its own (at most 64 tokens) and followed by the newline token,
so every token belongs to exactly one source line, and its bytes (byte-level BPE) give
exact offsets in that line: a span always maps back to exact source text and lines.
A block longer than one window is cut into consecutive windows of whole lines.

    python -m engram_training.reader data  --corpus .data/corpus --qa .data/qa --out .data/reader
    python -m engram_training.reader train --data .data/reader --out .data/reader/run [--budget-s 600]
    python -m engram_training.reader eval  --data .data/reader --run .data/reader/run
    python -m engram_training.reader export --data .data/reader --run .data/reader/run --out ../models/reader-0.2.0

Labels come from the QA generator: the span is the answer's occurrence on the evidence
lines (for "where is X defined" the defined name on its definition line), keep lines are
short evidence ranges, or the first line of long ones plus lines naming the answer or
the question's identifiers. Hard negatives are windows of the same file, windows that
mention the question's identifiers, and BM25 look-alikes. Half the examples get a copy
with the question's identifiers and the answer renamed consistently.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import string
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .features import canonical_ids, match_features, segments
from .gate import _Layer
from .names import defines_any, line_prior, name_ranges, names_in
from .runs import add_train_parser, load_jsonl, pick_device, save_ckpt

MAX_LEN = 512
Q_MAX = 64
MEM_MAX = 96
PATH_MAX = 24
LINE_MAX = 64
MAX_SPAN = 48
# Log-odds against spans on lines that name none of the question's code names (NAME_PENALTY in extractive.ts).
NAME_PENALTY = 16.0
# ... and against spans on lines that use a question name without defining it (MENTION_PENALTY there).
MENTION_PENALTY = 4.0
NL = "\u010a"  # the byte-level token for "\n"
DEFAULT_TOKENIZER = Path(__file__).resolve().parents[2] / "models" / "engram-tokenizer" / "tokenizer.json"

# token flags (training tensors)
F_SPAN, F_KEEP, F_BLOCK = 1, 2, 4

# ---------------------------------------------------------------- model


@dataclass
class ReaderConfig:
    vocab_size: int = 12000
    d_model: int = 192
    layers: int = 6
    heads: int = 6
    ff: int = 768
    max_len: int = MAX_LEN
    dropout: float = 0.1
    pad_id: int = 0
    # Segment and exact-match inputs (engram_training/features.py).
    features: bool = True
    memory_id: int = 5  # "<memory>" in engram-tokenizer
    block_id: int = 6  # "<block>"
    sep_id: int = 7  # "<sep>"
    first_plain_id: int = 11  # ids below are special tokens


def config_of(saved: dict) -> ReaderConfig:
    """A run's saved config; runs made before the feature inputs had none."""
    return ReaderConfig(**{"features": False, **saved})


class ReaderModel(nn.Module):
    """input_ids, attention_mask [B,T] int64 -> start_logits, end_logits, keep_logits [B,T],
    no_answer_logits [B]."""

    def __init__(self, c: ReaderConfig) -> None:
        super().__init__()
        self.config = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.max_len, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList(_Layer(c) for _ in range(c.layers))  # type: ignore[arg-type]
        self.ln = nn.LayerNorm(c.d_model)
        self.span = nn.Linear(c.d_model, 2)
        self.keep = nn.Linear(c.d_model, 1)
        self.na = nn.Sequential(nn.Linear(3 * c.d_model, c.d_model), nn.GELU(), nn.Linear(c.d_model, 1))
        if c.features:
            # question, memory, path, lines; and "also in the question / memory"
            self.seg = nn.Embedding(4, c.d_model)
            self.match = nn.Embedding(4, c.d_model)
            self.register_buffer("canon", torch.arange(c.vocab_size, dtype=torch.long))

    def set_canonical(self, tokenizer_json: Path) -> None:
        """Lets a word match with and without a leading space (see features.py)."""
        self.canon.copy_(canonical_ids(tokenizer_json, self.config.vocab_size).to(self.canon.device))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        t = input_ids.shape[1]
        c = self.config
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(pos)
        if c.features:
            seg = segments(input_ids, [c.memory_id, c.block_id, c.sep_id])
            x = x + self.seg(seg) + self.match(match_features(input_ids, attention_mask, seg, self.canon, c.first_plain_id))
        x = self.drop(x)
        m = attention_mask.to(x.dtype)
        bias = ((1.0 - m) * -1e4)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        x = self.ln(x)
        se = self.span(x)
        start, end = se[..., 0], se[..., 1]
        keep = self.keep(x).squeeze(-1)
        mean = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        # The best start score's state: the no-answer head sees what the pointer found.
        s_masked = start + (1.0 - m) * -1e4
        w = torch.softmax(s_masked, dim=-1).unsqueeze(-1)
        pointed = (x * w).sum(1)
        na = self.na(torch.cat([x[:, 0], mean, pointed], dim=-1)).squeeze(-1)
        return start, end, keep, na


# ---------------------------------------------------------------- encoding


def _byte_decoder() -> dict[str, int]:
    """GPT-2's bytes_to_unicode, inverted: a byte-level token's characters -> bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


@dataclass
class Window:
    """One model input: ids plus, per token, its window line (-1 outside the block) and
    byte range in that line; `lines` are the window's source lines, first = start_line."""
    ids: list[int]
    line_of: list[int]
    b0: list[int]
    b1: list[int]
    spanable: list[bool]
    lines: list[str]
    start_line: int


class ReaderEncoder:
    def __init__(self, tokenizer_path: Path) -> None:
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(str(tokenizer_path))
        self.sp = {t: self.tok.token_to_id(t) for t in ("<s>", "<question>", "<memory>", "<block>", "<sep>")}
        self.nl = self.tok.token_to_id(NL)
        self.bytes_of = _byte_decoder()
        self._lens: dict[int, int] = {}
        self._line_cache: dict[str, tuple[list[int], list[int]]] = {}

    def ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids if text else []

    def tok_len(self, i: int) -> int:
        n = self._lens.get(i)
        if n is None:
            s = self.tok.id_to_token(i) or ""
            n = sum(1 for ch in s if ch in self.bytes_of)
            self._lens[i] = n
        return n

    def prefix(self, question: str, memory: str, path: str) -> list[int]:
        return ([self.sp["<s>"], self.sp["<question>"]] + self.ids(question)[:Q_MAX] + [self.sp["<memory>"]]
                + self.ids(memory)[:MEM_MAX] + [self.sp["<block>"]] + self.ids(path)[:PATH_MAX] + [self.sp["<sep>"]])

    def line(self, text: str) -> tuple[list[int], list[int]]:
        """Token ids of one line (at most LINE_MAX) and their byte lengths."""
        hit = self._line_cache.get(text)
        if hit is None:
            ids = self.ids(text)[:LINE_MAX]
            hit = (ids, [self.tok_len(i) for i in ids])
            if len(self._line_cache) < 500_000:
                self._line_cache[text] = hit
        return hit

    def windows(self, prefix: list[int], lines: list[str], start_line: int, max_len: int = MAX_LEN) -> list[Window]:
        """Consecutive windows of whole lines, each fitting max_len with the prefix."""
        budget = max_len - len(prefix)
        out: list[Window] = []
        cur: list[int] = []
        used = 0
        for k, text in enumerate(lines):
            n = len(self.line(text)[0]) + 1
            if cur and used + n > budget:
                out.append(self._window(prefix, lines, cur, start_line))
                cur, used = [], 0
            cur.append(k)
            used += n
        if cur or not out:
            out.append(self._window(prefix, lines, cur, start_line))
        return out

    def _window(self, prefix: list[int], lines: list[str], idx: list[int], start_line: int) -> Window:
        ids, line_of, b0, b1, sp = list(prefix), [-1] * len(prefix), [0] * len(prefix), [0] * len(prefix), [False] * len(prefix)
        first = idx[0] if idx else 0
        for k in idx:
            t, lens = self.line(lines[k])
            off = 0
            for i, n in zip(t, lens):
                ids.append(i)
                line_of.append(k - first)
                b0.append(off)
                off += n
                b1.append(off)
                sp.append(True)
            ids.append(self.nl)
            line_of.append(k - first)
            b0.append(off)
            b1.append(off)
            sp.append(False)
        return Window(ids[:MAX_LEN], line_of[:MAX_LEN], b0[:MAX_LEN], b1[:MAX_LEN], sp[:MAX_LEN],
                      [lines[k] for k in idx], start_line + first)


def span_tokens(w: Window, line: int, cstart: int, cend: int) -> tuple[int, int] | None:
    """Token indices covering characters [cstart, cend) of window line `line`."""
    text = w.lines[line]
    bs, be = len(text[:cstart].encode()), len(text[:cend].encode())
    s = e = None
    for t, (ln, a, b, ok) in enumerate(zip(w.line_of, w.b0, w.b1, w.spanable)):
        if not ok or ln != line:
            continue
        if s is None and a <= bs < b:
            s = t
        if a < be <= b:
            e = t
            break
    return (s, e) if s is not None and e is not None and e >= s else None


def _word(raw: bytes, i: int) -> bool:
    return 0 <= i < len(raw) and raw[i] < 128 and (chr(raw[i]).isalnum() or raw[i] in b"_$")


def span_text(w: Window, s: int, e: int, whole_words: bool = False) -> tuple[str, int, int]:
    """Exact source text of tokens s..e (whole characters, trimmed) and its window lines.
    With whole_words, a span that starts or ends inside a word takes the whole word
    (answers are whole names, numbers and literals; a BPE piece never is one)."""
    ls, le = w.line_of[s], w.line_of[e]
    parts = []
    for ln in range(ls, le + 1):
        raw = w.lines[ln].encode()
        a = w.b0[s] if ln == ls else 0
        b = w.b1[e] if ln == le else len(raw)
        while a > 0 and (raw[a] & 0xC0) == 0x80:
            a -= 1
        while b < len(raw) and (raw[b] & 0xC0) == 0x80:
            b += 1
        while whole_words and ln == ls and a > 0 and _word(raw, a) and _word(raw, a - 1):
            a -= 1
        while whole_words and ln == le and b < len(raw) and _word(raw, b) and _word(raw, b - 1):
            b += 1
        parts.append(raw[a:b].decode("utf-8", "replace"))
    return "\n".join(parts).strip(), ls, le


def normalize(s: str) -> str:
    s = s.strip().rstrip(",;").strip()
    while len(s) >= 1 and s[0] in "'\"`" and s[-1:] == s[0] and len(s) >= 2:
        s = s[1:-1]
    return s.strip("'\"` ")


# ---------------------------------------------------------------- labels


_IDENT_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _names(question: str) -> list[str]:
    return [n for n in re.findall(r"`([^`]+)`", question) if _IDENT_RE.match(n)]


def target_text(q: dict) -> str | None:
    if q["kind"] == "unanswerable":
        return None
    if q["kind"] == "definition":
        names = _names(q["question"])
        return names[0] if names else None
    return q["answer"]


def find_in_line(text: str, target: str) -> tuple[int, int] | None:
    """The target's first occurrence that does not start or end inside a word (`1` is not
    found in `helper_1_2`): answers are whole names, numbers and literals, as decoded."""
    if not target:
        return None
    lead = r"(?<![A-Za-z0-9_$])" if re.match(r"[A-Za-z0-9_$]", target[0]) else ""
    tail = r"(?![A-Za-z0-9_$])" if re.match(r"[A-Za-z0-9_$]", target[-1]) else ""
    m = re.search(lead + re.escape(target) + tail, text)
    return (m.start(), m.end()) if m else None


def keep_lines(q: dict, lines_of: dict[str, list[str]], target: str | None) -> set[tuple[str, int]]:
    """(path, line) pairs worth keeping in the working memory for this question."""
    out: set[tuple[str, int]] = set()
    names = _names(q["question"]) + ([target] if target else [])
    for ev in q["evidence"]:
        a, b = ev["startLine"], ev["endLine"]
        if b - a < 3:
            out.update((ev["path"], n) for n in range(a, b + 1))
            continue
        out.add((ev["path"], a))
        src = lines_of.get(ev["path"], [])
        for n in range(a + 1, b + 1):
            if n - 1 < len(src) and any(find_in_line(src[n - 1], nm) for nm in names if nm):
                out.add((ev["path"], n))
    return out


def label_window(w: Window, path: str, q: dict, target: str | None, keep: set[tuple[str, int]]):
    """(start, end) tokens of the answer in this window or None, and the kept window lines."""
    kept = [k for k in range(len(w.lines)) if (path, w.start_line + k) in keep]
    if target is None:
        return None, kept
    ev_lines = []
    for ev in q["evidence"]:
        if ev["path"] != path:
            continue
        for n in range(ev["startLine"], ev["endLine"] + 1):
            k = n - w.start_line
            if 0 <= k < len(w.lines) and k not in ev_lines:
                ev_lines.append(k)
    for k in ev_lines:
        hit = find_in_line(w.lines[k], target)
        if hit:
            st = span_tokens(w, k, *hit)
            if st and st[1] - st[0] < MAX_SPAN:
                return st, kept
    return None, kept


# ---------------------------------------------------------------- renaming augmentation

_SYL = ["ka", "lo", "mi", "ren", "tas", "vo", "qu", "zel", "dor", "fin", "gra", "hul", "pex", "sor", "tri", "wan", "bex", "nim"]


def _new_name(old: str, rng: random.Random, taken: str) -> str:
    for _ in range(20):
        parts = ["".join(rng.choice(_SYL) for _ in range(rng.randint(1, 2))) for _ in range(rng.randint(1, 3))]
        if "_" in old.strip("_"):
            name = "_".join(parts)
            name = name.upper() if old.isupper() else name
        else:
            name = parts[0] + "".join(p.capitalize() for p in parts[1:])
            if old[:1].isupper():
                name = name[:1].upper() + name[1:]
            if old.isupper():
                name = name.upper()
        lead = len(old) - len(old.lstrip("_"))
        name = "_" * lead + name
        if name not in taken and name != old:
            return name
    return old + "_" + "".join(rng.choice(string.ascii_lowercase) for _ in range(4))


def rename(rng: random.Random, q: dict, lines: list[str], memory: str) -> tuple[dict, list[str], str]:
    """The question's identifiers (and an identifier answer) renamed the same way everywhere."""
    names = set(_names(q["question"]))
    if _IDENT_RE.match(q.get("answer", "")) and q["kind"] in ("describe", "call_chain", "definition"):
        names.add(q["answer"])
    names = {n for n in names if len(n) > 1 and n not in ("self", "this", "None", "true", "false", "null")}
    if not names:
        return q, lines, memory
    blob = "\n".join(lines) + q["question"]
    mapping = {n: _new_name(n, rng, blob) for n in names}
    pat = re.compile(r"(?<![A-Za-z0-9_$])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![A-Za-z0-9_$])")
    sub = lambda s: pat.sub(lambda m: mapping[m.group(1)], s)  # noqa: E731
    q2 = dict(q, question=sub(q["question"]), answer=sub(q["answer"]))
    return q2, [sub(l) for l in lines], sub(memory)


# ---------------------------------------------------------------- data



def _examples_for(q: dict, blocks: list, by_path: dict[str, list[str]], order: list[int], rng: random.Random,
                  train: bool) -> list[tuple[str, object, int]]:
    """(memory, block, window choice) items: positives, then hard negatives. Window choice -1 =
    the window(s) holding evidence, else a random window index seed."""
    pos = [i for i, b in enumerate(blocks) if any(b.overlaps(e) for e in q["evidence"])]
    pos_set = set(pos)
    others = [i for i in range(len(blocks)) if i not in pos_set]
    names = _names(q["question"])
    ev_paths = {e["path"] for e in q["evidence"]}
    same_file = [i for i in others if blocks[i].path in ev_paths]
    same_ident = [i for i in others if any(n in blocks[i].text for n in names)]
    lexical = [i for i in order[:10] if i not in pos_set]
    negs: list[int] = []
    quota = ((same_file, 1), (same_ident, 2), (lexical, 1), (others, 0)) if pos else ((same_ident, 2), (lexical, 1), (others, 0))
    for pool, k in quota:
        cands = [i for i in pool if i not in negs]
        negs.extend(rng.sample(cands, min(k, len(cands))))
    items: list[tuple[str, object, int]] = []
    memory = ""
    if train and others and rng.random() < 0.3:  # an unrelated working memory must not change the answer
        b = blocks[rng.choice(others)]
        memory = f"{b.path}:{b.start}: {b.text.split(chr(10))[0].strip()[:160]}"
    for i in (rng.sample(pos, min(2, len(pos))) if train else pos):
        items.append((memory, blocks[i], -1))
    if q["kind"] == "call_chain" and len(q["evidence"]) >= 2:
        first = q["evidence"][0]
        src = by_path.get(first["path"], [])
        hop = src[first["startLine"] - 1].strip()[:160] if first["startLine"] - 1 < len(src) else ""
        mem = f"{first['path']}:{first['startLine']}: {hop}"
        for i in pos:
            if any(blocks[i].overlaps(e) for e in q["evidence"][1:]) and not blocks[i].overlaps(first):
                items.append((mem, blocks[i], -1))
                break
    for i in negs:
        items.append((memory, blocks[i], rng.randrange(1 << 30)))
    return items


def build_examples(q: dict, blocks: list, by_path: dict[str, list[str]], order: list[int], rng: random.Random,
                   enc: ReaderEncoder, train: bool, renamed: bool) -> list[dict]:
    """Labelled windows for one question (raw fields plus the encoded Window)."""
    out = []
    for memory, b, choice in _examples_for(q, blocks, by_path, order, rng, train):
        qq, lines, mem = q, b.text.split("\n"), memory
        src_lines = by_path
        if renamed:
            qq, lines, mem = rename(rng, q, lines, memory)
            # keep-line detection reads the renamed block's own lines
            src_lines = dict(by_path)
            src_lines[b.path] = list(by_path.get(b.path, []))
            for k, l in enumerate(lines):
                if b.start - 1 + k < len(src_lines[b.path]):
                    src_lines[b.path][b.start - 1 + k] = l
        target = target_text(qq)
        keep = keep_lines(qq, src_lines, target)
        wins = enc.windows(enc.prefix(qq["question"], mem, b.path), lines, b.start)
        if choice == -1:
            picked = [w for w in wins if any(ev["path"] == b.path and ev["startLine"] <= w.start_line + len(w.lines) - 1
                                             and ev["endLine"] >= w.start_line for ev in qq["evidence"])][:2]
        else:
            picked = [wins[choice % len(wins)]]
        for w in picked:
            span, kept = label_window(w, b.path, qq, target, keep)
            out.append({"q": qq, "memory": mem, "path": b.path, "window": w, "span": span, "kept": kept,
                        "target": target})
    return out


def build_data(corpus: Path, qa: Path, tokenizer: Path, out: Path, seed: int = 0, max_train_q: int = 100000,
               max_eval_q: int = 500, rename_p: float = 0.5, rename_copies: int = 1, log=None) -> dict:
    from .blocks import BM25, chunk_file, questions_by_context
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    enc = ReaderEncoder(tokenizer)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    file_cache: dict[tuple[str, str], tuple[list, list[str]]] = {}
    for split in ("train", "validation", "test"):
        t0 = time.time()
        train = split == "train"
        # whole-repository contexts are for the engine's own evaluation; windows come from the rest
        contexts, by_ctx = questions_by_context(qa, split, rng, max_train_q if train else max_eval_q,
                                                keep=lambda ctx: ctx.get("size_class") != "repo")
        rows: list[list[int]] = []
        flags: list[list[int]] = []
        starts: list[int] = []
        ends: list[int] = []
        nas: list[int] = []
        evals: list[dict] = []
        for cid, qs in by_ctx.items():
            ctx = contexts[cid]
            blocks = []
            by_path: dict[str, list[str]] = {}
            for path in ctx["files"]:
                key = (ctx["repo"], path)
                if key not in file_cache:
                    text = (corpus / "repos" / ctx["repo"] / path).read_text("utf-8")
                    file_cache[key] = (chunk_file(path, text), text.split("\n"))
                blocks.extend(file_cache[key][0])
                by_path[path] = file_cache[key][1]
            if not blocks:
                continue
            bm = BM25([b.text for b in blocks])
            for q in qs:
                scores = bm.scores(q["question"])
                order = sorted(range(len(blocks)), key=lambda i: -scores[i])
                variants = [False] + [True for _ in range(rename_copies if train else 0) if rng.random() < rename_p]
                for renamed in variants:
                    for ex in build_examples(q, blocks, by_path, order, rng, enc, train, renamed):
                        w: Window = ex["window"]
                        if train:
                            kept = set(ex["kept"])
                            rows.append(w.ids)
                            flags.append([(F_SPAN if s else 0) | (F_KEEP if ln in kept else 0) | (F_BLOCK if ln >= 0 else 0)
                                          for s, ln in zip(w.spanable, w.line_of)])
                            starts.append(ex["span"][0] if ex["span"] else -1)
                            ends.append(ex["span"][1] if ex["span"] else -1)
                            nas.append(0 if ex["span"] else 1)
                        else:
                            evals.append({"qid": q["id"], "kind": q["kind"], "question": q["question"], "memory": ex["memory"],
                                          "path": ex["path"], "startLine": w.start_line, "lines": w.lines,
                                          "target": ex["target"] if ex["span"] else None,
                                          "targetText": span_text(w, *ex["span"])[0] if ex["span"] else None,
                                          "answerLines": [w.start_line + w.line_of[ex["span"][0]], w.start_line + w.line_of[ex["span"][1]]] if ex["span"] else None,
                                          "keepLines": [w.start_line + k for k in ex["kept"]]})
        if train:
            offsets = np.zeros(len(rows) + 1, dtype=np.int64)
            offsets[1:] = np.cumsum([len(r) for r in rows])
            np.savez_compressed(out / "train.npz",
                                ids=np.fromiter((i for r in rows for i in r), dtype=np.uint16, count=int(offsets[-1])),
                                flags=np.fromiter((f for r in flags for f in r), dtype=np.uint8, count=int(offsets[-1])),
                                offsets=offsets, start=np.array(starts, dtype=np.int16), end=np.array(ends, dtype=np.int16),
                                na=np.array(nas, dtype=np.uint8))
            stats[split] = {"examples": len(rows), "positives": int(len(nas) - sum(nas)), "questions": sum(map(len, by_ctx.values())),
                            "tokens": int(offsets[-1])}
        else:
            (out / f"{split}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals))
            stats[split] = {"examples": len(evals), "positives": sum(1 for e in evals if e["target"]),
                            "questions": sum(map(len, by_ctx.values()))}
        say(f"reader data {split}: {stats[split]} ({time.time() - t0:.0f}s)")
    stats["rename"] = {"p": rename_p, "copies": rename_copies}
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


class Packed:
    def __init__(self, path: Path) -> None:
        z = np.load(path)
        self.ids, self.flags, self.offsets = z["ids"], z["flags"], z["offsets"]
        self.start, self.end, self.na = z["start"], z["end"], z["na"]

    def __len__(self) -> int:
        return len(self.na)

    def batch(self, idx: list[int], dev: torch.device):
        seqs = [(self.ids[self.offsets[i]:self.offsets[i + 1]], self.flags[self.offsets[i]:self.offsets[i + 1]]) for i in idx]
        t = max(len(s) for s, _ in seqs)
        ids = np.zeros((len(idx), t), dtype=np.int64)
        fl = np.zeros((len(idx), t), dtype=np.uint8)
        mask = np.zeros((len(idx), t), dtype=np.int64)
        for r, (s, f) in enumerate(seqs):
            ids[r, :len(s)], fl[r, :len(s)], mask[r, :len(s)] = s, f, 1
        ten = lambda a: torch.from_numpy(a).to(dev)  # noqa: E731
        return (ten(ids), ten(mask), ten(fl.astype(np.int64)), ten(self.start[idx].astype(np.int64)),
                ten(self.end[idx].astype(np.int64)), ten(self.na[idx].astype(np.float32)))


# ---------------------------------------------------------------- training


def loss_fn(model: ReaderModel, ids, mask, fl, st, en, na):
    start, end, keep, na_logit = model(ids, mask)
    spanable = (fl & F_SPAN) > 0
    neg = torch.finfo(start.dtype).min / 2
    start = start.float().masked_fill(~spanable, -1e4)
    end = end.float().masked_fill(~spanable, -1e4)
    has = st >= 0
    l_span = torch.zeros((), device=ids.device)
    if has.any():
        l_span = (F.cross_entropy(start[has], st[has]) + F.cross_entropy(end[has], en[has])) / 2
    l_na = F.binary_cross_entropy_with_logits(na_logit.float(), na)
    block = (fl & F_BLOCK) > 0
    kl = ((fl & F_KEEP) > 0).float()
    l_keep = (F.binary_cross_entropy_with_logits(keep.float(), kl, reduction="none", pos_weight=torch.tensor(3.0, device=ids.device))
              * block).sum() / block.sum().clamp(min=1)
    del neg
    return l_span + l_na + 0.5 * l_keep, (l_span.item(), l_na.item(), l_keep.item())


def train(data: Path, run: Path, config: ReaderConfig | None = None, budget_s: float = 600, epochs: float = 20.0,
          batch_size: int = 64, lr: float = 5e-4, seed: int = 0, device: str = "auto", log=None,
          init: Path | None = None, warmup: int = 300, tokenizer: Path = DEFAULT_TOKENIZER) -> dict:
    """Trains until `epochs` or `budget_s` runs out; resumes from run/ckpt.pt, or starts from the
    weights of another run (`init`, e.g. to continue a GPU run on CPU)."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    torch.manual_seed(seed)
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
    ds = Packed(data / "train.npz")
    c = config or ReaderConfig()
    run.mkdir(parents=True, exist_ok=True)
    ckpt = run / "ckpt.pt"
    step, seen_s = 0, 0.0
    state = torch.load(ckpt, map_location=dev, weights_only=False) if ckpt.exists() else None
    if state:
        c = config_of(state["config"])
    if init is not None and not state:
        c = config_of(json.loads((init / "train.json").read_text())["config"])
    model = ReaderModel(c).to(dev)
    if c.features and not state and init is None:
        model.set_canonical(tokenizer)
    if init is not None and not state:
        model.load_state_dict(load_model(init).state_dict())
        say(f"initialised from {init}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, seen_s = state["step"], state["seconds"]
        say(f"resumed at step {step}")
    total_steps = max(1, int(epochs * len(ds) / batch_size))
    # Cosine schedule over the budget: steps/s is measured as we go.
    rng = np.random.default_rng(seed + step)
    order = rng.permutation(len(ds))
    t0 = time.time()
    model.train()
    hist: list[tuple[float, float, float]] = []
    last_save = time.time()
    amp = dev.type == "cuda"
    log_every = 100 if amp else 10
    while step < total_steps:
        elapsed = seen_s + time.time() - t0
        if elapsed >= budget_s:
            break
        k = (step * batch_size) % len(ds)
        if k + batch_size > len(ds):
            order = rng.permutation(len(ds))
        idx = order[k:k + batch_size].tolist() if k + batch_size <= len(ds) else order[:batch_size].tolist()
        ids, mask, fl, st, en, na = ds.batch(idx, dev)
        frac = max(min(1.0, step / total_steps), min(1.0, elapsed / budget_s))
        warm = min(1.0, (step + 1) / max(1, warmup))
        for g in opt.param_groups:
            g["lr"] = lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
            loss, parts = loss_fn(model, ids, mask, fl, st, en, na)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist.append(parts)
        step += 1
        if step % log_every == 0:
            h = np.mean(hist[-100:], axis=0)
            say(f"step {step} span {h[0]:.3f} na {h[1]:.3f} keep {h[2]:.3f} "
                f"{(step * batch_size) / max(1e-9, seen_s + time.time() - t0):.0f} ex/s")
        if time.time() - last_save > 120:
            save_ckpt(ckpt, model, opt, step, seen_s + time.time() - t0, c)
            last_save = time.time()
    seconds = seen_s + time.time() - t0
    save_ckpt(ckpt, model, opt, step, seconds, c)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, run / "model.pt")
    info = {"config": asdict(c), "steps": step, "seconds": round(seconds, 1), "examples_seen": step * batch_size,
            "train_examples": len(ds), "epochs_seen": round(step * batch_size / len(ds), 2), "device": str(dev),
            "device_name": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
            "final_loss": {k: float(v) for k, v in zip(("span", "no_answer", "keep"), np.mean(hist[-100:], axis=0))} if hist else None,
            "seed": seed, "lr": lr, "batch_size": batch_size}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    say(f"trained {step} steps in {seconds:.0f}s on {info['device_name']}")
    return info



def save_shards(run: Path, out: Path, max_bytes: int = 14 << 20) -> list[Path]:
    """model.pt split into model.partN.pt files under max_bytes (for size-limited transfers)."""
    state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    out.mkdir(parents=True, exist_ok=True)
    parts: list[dict] = [{}]
    size = 0
    for k, v in state.items():
        n = v.numel() * v.element_size()
        if parts[-1] and size + n > max_bytes:
            parts.append({})
            size = 0
        parts[-1][k] = v
        size += n
    files = []
    for i, p in enumerate(parts):
        torch.save(p, out / f"model.part{i}.pt")
        files.append(out / f"model.part{i}.pt")
    return files


def load_model(run: Path, device: str = "cpu") -> ReaderModel:
    info = json.loads((run / "train.json").read_text())
    model = ReaderModel(config_of(info["config"]))
    if (run / "model.pt").exists():
        state = torch.load(run / "model.pt", map_location="cpu", weights_only=True)
    else:  # shards written by save_shards
        state = {}
        for p in sorted(run.glob("model.part*.pt")):
            state.update(torch.load(p, map_location="cpu", weights_only=True))
    model.load_state_dict(state)
    return model.to(pick_device(device)).eval()


def run_from_onnx(folder: Path, out: Path) -> dict:
    """A run folder (train.json + model.pt) holding the weights of a shipped reader's ONNX
    (FOLDER/config.json, FOLDER/onnx/model.onnx), so RL and fine-tuning can start from a shipped
    reader whose training run is not at hand. The recovered model is checked against the ONNX."""
    from .publish import weights_from_onnx
    cfg = json.loads((folder / "config.json").read_text())
    onnx_file = folder / "onnx" / "model.onnx"
    arch = {k: cfg[k] for k in ("vocab_size", "d_model", "layers", "heads", "ff", "max_len")}
    errors = []
    for features in (True, False):  # cards do not say; the file's weights do
        c = ReaderConfig(**arch, features=features)
        try:
            state = weights_from_onnx(ReaderModel(c), onnx_file)
            break
        except ValueError as e:
            errors.append(str(e))
    else:
        raise ValueError(f"{onnx_file} is not an Engram reader: {'; '.join(errors)}")
    model = ReaderModel(c)
    model.load_state_dict(state)
    gap = model_onnx_gap(model.eval(), onnx_forward(onnx_file))
    if gap > 1e-4:
        raise ValueError(f"weights read back from {onnx_file} give other outputs (max |delta| {gap:.3g})")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(state, out / "model.pt")
    info = {"config": asdict(c), "from_onnx": str(onnx_file), "version": folder.name, "steps": 0, "onnx_max_abs_diff": gap}
    (out / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ---------------------------------------------------------------- inference (mirrors extractive.ts)


def decode_window(w: Window, start: np.ndarray, end: np.ndarray, keep: np.ndarray, na_logit: float,
                  names: Sequence[str] = (), name_penalty: float = NAME_PENALTY,
                  mention_penalty: float = MENTION_PENALTY, not_answers: Sequence[str] = ()) -> dict:
    """Best span (start <= end on one line, at most MAX_SPAN tokens, widened to whole words),
    P(no answer), per-line keep scores. Every answer kind is on one line. When the question
    names code (`names`), spans on lines that say none of those names rank `name_penalty`
    nats lower, and on lines that use one without defining it `mention_penalty` lower; the
    span's score stays its own probability. A span inside one occurrence of a name in
    `not_answers` is never the answer (mirrors extractive.ts)."""
    sp = np.array(w.spanable + [False] * (len(start) - len(w.spanable)))[:len(start)]
    s = np.where(sp, start, -np.inf)
    e = np.where(sp, end, -np.inf)
    ls = s - np.logaddexp.reduce(s[sp]) if sp.any() else s
    le = e - np.logaddexp.reduce(e[sp]) if sp.any() else e
    best, bi, bj = -np.inf, -1, -1
    idx = np.nonzero(sp)[0]
    line = np.array(w.line_of[:len(e)])
    occ = np.array(name_tokens(w, not_answers)[:len(e)])
    prior = np.array([line_prior(text, names, name_penalty, mention_penalty) for text in w.lines])
    rank = -np.inf
    for i in idx:
        j_hi = min(len(e), i + MAX_SPAN)
        seg = np.where(line[i:j_hi] == line[i], le[i:j_hi], -np.inf)
        if occ[i] >= 0:
            seg = np.where(occ[i:j_hi] == occ[i], -np.inf, seg)
        j = int(np.argmax(seg))
        if np.isfinite(seg[j]) and ls[i] + seg[j] + prior[line[i]] > rank:
            rank, best, bi, bj = ls[i] + seg[j] + prior[line[i]], ls[i] + seg[j], int(i), int(i + j)
    p_na = float(1 / (1 + math.exp(-na_logit)))
    ans = None
    if bi >= 0:
        text, l0, l1 = span_text(w, bi, bj, whole_words=True)
        ans = {"text": text, "startLine": w.start_line + l0, "endLine": w.start_line + l1, "score": float(math.exp(best))}
    sums: dict[int, list[float]] = {}
    for t, ln in enumerate(w.line_of[:len(keep)]):
        if ln >= 0:
            sums.setdefault(ln, []).append(float(keep[t]))
    keeps = {w.start_line + ln: float(1 / (1 + math.exp(-np.mean(v)))) for ln, v in sums.items()}
    return {"noAnswer": p_na, "answer": ans, "keep": keeps}


_WORD_BYTE = re.compile(rb"[A-Za-z0-9_$]")


def name_tokens(w: Window, names: Sequence[str]) -> list[int]:
    """Per token, which occurrence of one of `names` it lies in (its other bytes are not
    identifier bytes, so the span widens to exactly the name), else -1. Mirrors nameTokens in extractive.ts."""
    occ = [-1] * len(w.ids)
    if not names:
        return occ
    found: dict[int, tuple[bytes, list[tuple[int, int]], list[int]]] = {}
    nxt = 0
    for t, ln in enumerate(w.line_of):
        if ln < 0 or t >= len(w.spanable) or not w.spanable[t]:
            continue
        if ln not in found:
            ranges = name_ranges(w.lines[ln], names)
            found[ln] = (w.lines[ln].encode(), ranges, list(range(nxt, nxt + len(ranges))))
            nxt += len(ranges)
        raw, ranges, ids = found[ln]
        a, b = w.b0[t], w.b1[t]
        for (s, e), k in zip(ranges, ids):
            if a >= e or b <= s:
                continue
            if any((x < s or x >= e) and _WORD_BYTE.match(raw[x:x + 1]) for x in range(a, b)):
                continue
            occ[t] = k
            break
    return occ


def _pad(windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
    t = max(len(w.ids) for w in windows)
    ids = np.zeros((len(windows), t), dtype=np.int64)
    mask = np.zeros((len(windows), t), dtype=np.int64)
    for r, w in enumerate(windows):
        ids[r, :len(w.ids)], mask[r, :len(w.ids)] = w.ids, 1
    return ids, mask


def run_windows(windows: list[Window], forward, batch_size: int = 32, questions: Sequence[str] | None = None) -> list[dict]:
    """forward(ids, mask) -> (start, end, keep, na) numpy arrays; questions[i]: window i's
    question, for the name prior and the names that are never its answer (as the engine decodes)."""
    out: list[dict] = [{}] * len(windows)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        ids, mask = _pad([windows[i] for i in idx])
        st, en, kp, na = forward(ids, mask)
        for r, i in enumerate(idx):
            n = len(windows[i].ids)
            q = questions[i] if questions else ""
            names = names_in(q)
            out[i] = decode_window(windows[i], st[r, :n], en[r, :n], kp[r, :n], float(na[r]), names,
                                   not_answers=() if question_form(q) == "place" else names)
    return out


def onnx_gap(run: Path, forward) -> float:
    """Max |Δ| between a run's PyTorch outputs and an ONNX forward on the same random windows."""
    return model_onnx_gap(load_model(run), forward)


def model_onnx_gap(model: ReaderModel, forward) -> float:
    """onnx_gap for a model in memory."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(11, model.config.vocab_size, (2, 40), generator=g).numpy()
    mask = np.ones_like(ids)
    mask[1, 30:] = 0
    keep = mask.astype(bool)
    a, b = torch_forward(model, torch.device("cpu"))(ids, mask), forward(ids, mask)
    return max(float(np.abs((x[keep] - y[keep]) if x.ndim == 2 else (x - y)).max()) for x, y in zip(a, b))


def torch_forward(model: ReaderModel, dev: torch.device):
    @torch.no_grad()
    def f(ids: np.ndarray, mask: np.ndarray):
        res = model(torch.from_numpy(ids).to(dev), torch.from_numpy(mask).to(dev))
        return tuple(r.float().cpu().numpy() for r in res)
    return f


def onnx_forward(path: Path):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def f(ids: np.ndarray, mask: np.ndarray):
        return tuple(sess.run(["start_logits", "end_logits", "keep_logits", "no_answer_logits"],
                              {"input_ids": ids, "attention_mask": mask}))
    return f


# ---------------------------------------------------------------- evaluation


def eval_windows(enc: ReaderEncoder, rows: list[dict]) -> list[Window]:
    wins = []
    for r in rows:
        ws = enc.windows(enc.prefix(r["question"], r["memory"], r["path"]), r["lines"], r["startLine"])
        assert len(ws) == 1, "evaluation rows are single windows"
        wins.append(ws[0])
    return wins


def answers(p: dict, th: dict) -> bool:
    """The answer rule the runtime applies: the no-answer head under its threshold and a span
    probability at least min_score."""
    return bool(p["answer"]) and p["noAnswer"] < th["no_answer"] and p["answer"]["score"] >= th["min_score"]


def score_rows(rows: list[dict], preds: list[dict], th: dict) -> dict:
    """Per-window figures: span EM on positives (best span, whatever the decision), no-answer
    accuracy on negatives, overall EM with the answer rule vs always answering "not found",
    keep-line recall/precision at th["keep"]."""
    pos = [(r, p) for r, p in zip(rows, preds) if r["target"]]
    neg = [(r, p) for r, p in zip(rows, preds) if not r["target"]]

    em_span = [span_ok(r, p) for r, p in pos]
    overall = [(answers(p, th) and span_ok(r, p)) if r["target"] else not answers(p, th) for r, p in zip(rows, preds)]
    answered = [answers(p, th) for p in preds]
    tp = fn = fp = 0
    for r, p in zip(rows, preds):
        gold = set(r["keepLines"])
        kept = {ln for ln, sc in p["keep"].items() if sc >= th["keep"]}
        tp += len(gold & kept)
        fn += len(gold - kept)
        fp += len(kept - gold)
    by_kind: dict[str, dict] = {}
    for r, p, ok in zip(rows, preds, overall):
        d = by_kind.setdefault(r["kind"], {"windows": 0, "em": 0, "pos": 0, "span_em": 0})
        d["windows"] += 1
        d["em"] += int(ok)
        if r["target"]:
            d["pos"] += 1
            d["span_em"] += int(span_ok(r, p))
    for d in by_kind.values():
        d["em"] = round(d["em"] / d["windows"], 4)
        d["span_em"] = round(d["span_em"] / d["pos"], 4) if d["pos"] else None
    n_ans = sum(answered)
    return {
        "windows": len(rows), "positives": len(pos), "negatives": len(neg),
        "span_em_positives": round(float(np.mean(em_span)), 4) if em_span else None,
        "answered": n_ans,
        "answer_precision": round(sum(o for o, a, r in zip(overall, answered, rows) if a and r["target"]) / n_ans, 4) if n_ans else None,
        "answered_and_correct_positives": round(float(np.mean([o for o, r in zip(overall, rows) if r["target"]])), 4) if pos else None,
        "no_answer_accuracy_negatives": round(float(np.mean([not answers(p, th) for _, p in neg])), 4) if neg else None,
        "overall_em": round(float(np.mean(overall)), 4),
        "always_not_found_em": round(len(neg) / max(1, len(rows)), 4),
        "keep_recall": round(tp / max(1, tp + fn), 4), "keep_precision": round(tp / max(1, tp + fp), 4),
        "by_kind": by_kind,
        "question_level": score_questions(rows, preds, th),
    }


def span_ok(r: dict, p: dict) -> bool:
    """The predicted span is the labelled answer: same text and lines."""
    a = p["answer"]
    return bool(a) and bool(r["target"]) and normalize(a["text"]) == normalize(r["targetText"]) and \
        a["startLine"] == r["answerLines"][0] and a["endLine"] == r["answerLines"][1]


def question_form(question: str) -> str:
    """"place" ("where is `X` defined"), "value" ("the value of `X`", "the default value of
    ..."), or "other". Mirrors questionForm in extractive.ts."""
    if re.match(r"^\s*where\b", question, re.I):
        return "place"
    return "value" if re.search(r"\bvalue of\b", question, re.I) else "other"


def _answer_line(r: dict, p: dict) -> str | None:
    """The window line the answer starts on; None when it cites a line outside the window (a
    generative reasoner can)."""
    k = p["answer"]["startLine"] - r["startLine"]
    return r["lines"][k] if 0 <= k < len(r["lines"]) else None


def answer_fit(r: dict, p: dict) -> float:
    """For a place or value question, the name prior of the answer's line (a definition of
    what the question names first); 0 otherwise. Mirrors answerFit in extractive.ts."""
    if question_form(r["question"]) == "other":
        return 0.0
    line = _answer_line(r, p)
    return -math.inf if line is None else line_prior(line, names_in(r["question"]), NAME_PENALTY, MENTION_PENALTY)


def located(r: dict, p: dict) -> bool:
    """A place question whose span sits on a line defining a name it asks about: the engine
    states that place whatever the thresholds (the definition is checked by its shape)."""
    if not p["answer"] or question_form(r["question"]) != "place":
        return False
    line = _answer_line(r, p)
    return line is not None and defines_any(line, names_in(r["question"]))


def stated(r: dict, p: dict, th: dict) -> bool:
    """Whether the engine states this window's answer: it clears the thresholds and, for a place
    or value question, sits on a line that says a name the question asks about; or it is `located`.
    Mirrors the lead's `confident` in src/core/reason/extractive.ts."""
    return (answers(p, th) and answer_fit(r, p) > -NAME_PENALTY) or located(r, p)


def score_questions(rows: list[dict], preds: list[dict], th: dict) -> dict:
    """Per question, as the engine answers: of the windows read for it (its evidence windows and
    hard negatives; a window answers when `stated`), the answering window with the best answer_fit, then the highest
    (1 - P(no answer)) * span score gives the answer; with none, "not found". Right when that answer is the labelled span, or when an
    unanswerable question gets "not found"."""
    by_q: dict[str, list[tuple[dict, dict]]] = {}
    for i, (r, p) in enumerate(zip(rows, preds)):
        by_q.setdefault(r.get("qid") or f"row-{i}", []).append((r, p))
    right: list[bool] = []
    kinds: dict[str, list[bool]] = {}
    answered = 0
    for pairs in by_q.values():
        answerable = any(r["target"] for r, _ in pairs)
        given = [(r, p) for r, p in pairs if stated(r, p, th)]
        if given:
            answered += 1
            r, p = max(given, key=lambda rp: (answer_fit(*rp), (1 - rp[1]["noAnswer"]) * rp[1]["answer"]["score"]))
            ok = answerable and span_ok(r, p)
        else:
            ok = not answerable
        right.append(ok)
        kinds.setdefault(pairs[0][0].get("kind", "other"), []).append(ok)
    n = max(1, len(right))
    return {"questions": len(right), "accuracy": round(sum(right) / n, 4), "answered": answered,
            "by_kind": {k: {"questions": len(v), "accuracy": round(sum(v) / len(v), 4)} for k, v in sorted(kinds.items())}}


def tune_thresholds(rows: list[dict], preds: list[dict]) -> dict:
    """Answer rule for the best question-level accuracy on validation (ties: the stricter
    rule), keep threshold for the best F1 of evidence lines."""
    best, th = -1.0, {"no_answer": 0.5, "min_score": 0.5, "keep": 0.5}
    for t_na in [float(x) for x in np.round(np.linspace(0.05, 1.0, 20), 3)]:
        for t_s in (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
            cand = {"no_answer": t_na, "min_score": t_s, "keep": 0.5}
            acc = score_questions(rows, preds, cand)["accuracy"]
            if acc > best + 1e-9:
                best, th = acc, cand
    best_f1 = -1.0
    for k in np.round(np.linspace(0.05, 0.95, 19), 3):
        tp = fn = fp = 0
        for r, p in zip(rows, preds):
            gold = set(r["keepLines"])
            kept = {ln for ln, sc in p["keep"].items() if sc >= k}
            tp, fn, fp = tp + len(gold & kept), fn + len(gold - kept), fp + len(kept - gold)
        f1 = 2 * tp / max(1, 2 * tp + fn + fp)
        if f1 > best_f1:
            best_f1, th["keep"] = f1, float(k)
    return th


def predict(data: Path, tokenizer: Path, forward, limit: int | None = None) -> dict:
    enc = ReaderEncoder(tokenizer)
    out = {}
    for split in ("validation", "test"):
        rows = load_jsonl(data / f"{split}.jsonl")[:limit]
        out[split] = (rows, run_windows(eval_windows(enc, rows), forward, questions=[r["question"] for r in rows]))
    return out


def evaluate(data: Path, run: Path, tokenizer: Path, forward=None, device: str = "auto", limit: int | None = None,
             preds: dict | None = None) -> dict:
    if preds is None:
        if forward is None:
            dev = pick_device(device)
            forward = torch_forward(load_model(run, str(dev)), dev)
        preds = predict(data, tokenizer, forward, limit)
    th = tune_thresholds(*preds["validation"])
    return {"thresholds": th, "validation": score_rows(*preds["validation"], th), "test": score_rows(*preds["test"], th)}


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.reader")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="labelled windows: train tensors, validation/test rows")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--tokenizer", type=Path, default=Path("../models/engram-tokenizer/tokenizer.json"))
    d.add_argument("--out", type=Path, default=Path(".data/reader"))
    d.add_argument("--max-train-q", type=int, default=100000)
    d.add_argument("--max-eval-q", type=int, default=500)
    d.add_argument("--rename-p", type=float, default=0.5)
    d.add_argument("--rename-copies", type=int, default=1)
    d.add_argument("--seed", type=int, default=0)
    t = add_train_parser(sub, "reader", epochs=20.0, d_model=192, layers=6)
    t.add_argument("--heads", type=int, default=6)
    t.add_argument("--init", type=Path, default=None, help="start from this run's weights")
    t.add_argument("--warmup", type=int, default=300)
    t.add_argument("--no-features", action="store_true", help="without segment and exact-match inputs")
    t.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    h = sub.add_parser("shard", help="split RUN/model.pt into files under 14 MiB")
    h.add_argument("--run", type=Path, required=True)
    h.add_argument("--out", type=Path, required=True)
    o = sub.add_parser("from-onnx", help="a run folder with the weights of a shipped reader (to start RL or fine-tuning from)")
    o.add_argument("--model", type=Path, required=True, help="a shipped reader folder, e.g. ../models/reader-0.2.0")
    o.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("eval", help="span EM, no-answer accuracy, keep recall on held-out repositories")
    e.add_argument("--data", type=Path, default=Path(".data/reader"))
    e.add_argument("--run", type=Path, default=Path(".data/reader/run"))
    e.add_argument("--tokenizer", type=Path, default=Path("../models/engram-tokenizer/tokenizer.json"))
    e.add_argument("--device", default="auto")
    x = sub.add_parser("export", help="ONNX fp32 + int8, eval of the shipped files, model card, manifest entry")
    x.add_argument("--data", type=Path, default=Path(".data/reader"))
    x.add_argument("--run", type=Path, default=Path(".data/reader/run"))
    x.add_argument("--out", type=Path, default=Path("../models/reader-0.2.0"))
    x.add_argument("--tokenizer-dir", type=Path, default=Path("../models/engram-tokenizer"))
    x.add_argument("--manifest", type=Path, default=Path("../models/manifest.json"))
    x.add_argument("--version", default="0.2.0")
    a = ap.parse_args(argv)
    if a.cmd == "data":
        print(json.dumps(build_data(a.corpus, a.qa, a.tokenizer, a.out, a.seed, a.max_train_q, a.max_eval_q, a.rename_p, a.rename_copies), indent=1))
    elif a.cmd == "train":
        c = ReaderConfig(d_model=a.d_model, layers=a.layers, heads=a.heads, ff=4 * a.d_model, features=not a.no_features)
        print(json.dumps(train(a.data, a.out, c, a.budget_s, a.epochs, a.batch_size, a.lr, a.seed, a.device,
                               init=a.init, warmup=a.warmup, tokenizer=a.tokenizer), indent=1))
    elif a.cmd == "shard":
        print(json.dumps([str(p) for p in save_shards(a.run, a.out)]))
    elif a.cmd == "from-onnx":
        try:
            print(json.dumps(run_from_onnx(a.model, a.out), indent=1))
        except (OSError, KeyError, ValueError) as e:
            raise SystemExit(f"reader from-onnx: {e}")
    elif a.cmd == "eval":
        res = evaluate(a.data, a.run, a.tokenizer, device=a.device)
        (a.run / "eval.json").write_text(json.dumps(res, indent=1) + "\n")
        print(json.dumps(res, indent=1))
    else:
        from .reader_publish import publish_reader
        print(json.dumps(publish_reader(a.data, a.run, a.out, a.tokenizer_dir, a.manifest, a.version), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
