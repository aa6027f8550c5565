"""Blocks (the units the gate scores) and the BM25 baseline.

`chunk_file` approximates the engine's chunker (src/core/chunk): top-level units cut at
definition boundaries, packed into blocks of at most `max_tokens` (the engine's
countTokens estimate, 512 by default), with over-long units cut into line windows.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .corpus import count_tokens
from .runs import load_jsonl

_CLOSER = re.compile(r"^[\s]*[)}\]]")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*|\d+")
_SUBWORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


@dataclass(frozen=True)
class Block:
    path: str
    start: int  # 1-based inclusive
    end: int
    text: str

    def header(self) -> str:
        return f"{self.path}:{self.start}-{self.end}\n"

    def overlaps(self, ev: dict) -> bool:
        return ev["path"] == self.path and ev["startLine"] <= self.end and ev["endLine"] >= self.start


def chunk_file(path: str, text: str, max_tokens: int = 512) -> list[Block]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return []
    # Top-level units: a new unit starts at a non-indented line that does not close a bracket.
    starts = [0] + [i for i in range(1, len(lines))
                    if lines[i] and not lines[i][0].isspace() and not _CLOSER.match(lines[i])]
    units = [(s, e) for s, e in zip(starts, starts[1:] + [len(lines)])]
    toks = [count_tokens(l) + 1 for l in lines]
    blocks: list[Block] = []

    def emit(s: int, e: int) -> None:  # lines s..e-1
        if e > s and any(lines[i].strip() for i in range(s, e)):
            blocks.append(Block(path, s + 1, e, "\n".join(lines[s:e])))

    cur_s, cur_n = 0, 0
    for s, e in units:
        n = sum(toks[s:e])
        if cur_n and cur_n + n > max_tokens:
            emit(cur_s, s)
            cur_s, cur_n = s, 0
        if n > max_tokens:  # one long unit: line windows
            emit(cur_s, s)
            w_s, w_n = s, 0
            for i in range(s, e):
                if w_n and w_n + toks[i] > max_tokens:
                    emit(w_s, i)
                    w_s, w_n = i, 0
                w_n += toks[i]
            cur_s, cur_n = w_s, w_n
            continue
        cur_n += n
    emit(cur_s, len(lines))
    return blocks


def terms(text: str) -> list[str]:
    """Identifiers, lower-cased, plus their camelCase/snake_case parts."""
    out: list[str] = []
    for m in _IDENT.findall(text):
        low = m.lower()
        out.append(low)
        parts = [p.lower() for p in _SUBWORD.findall(m)]
        if len(parts) > 1:
            out.extend(parts)
    return out


class BM25:
    def __init__(self, docs: list[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.tfs = [Counter(terms(d)) for d in docs]
        self.lens = [sum(tf.values()) for tf in self.tfs]
        self.avg = sum(self.lens) / max(1, len(self.lens))
        df: Counter = Counter()
        for tf in self.tfs:
            df.update(tf.keys())
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        q = [t for t in set(terms(query)) if t in self.idf]
        out = []
        for tf, ln in zip(self.tfs, self.lens):
            s = 0.0
            for t in q:
                f = tf.get(t)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * ln / self.avg))
            out.append(s)
        return out


def questions_by_context(qa: Path, split: str, rng: random.Random, limit: int | None = None,
                         keep: Callable[[dict], bool] = lambda ctx: True) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """A split's contexts, and up to `limit` of the questions on contexts `keep` accepts (shuffled
    by `rng`), grouped by context in the shuffled order."""
    contexts = {c["id"]: c for c in load_jsonl(qa / split / "contexts.jsonl")}
    questions = [q for q in load_jsonl(qa / split / "qa.jsonl") if q["context"] in contexts and keep(contexts[q["context"]])]
    rng.shuffle(questions)
    by_ctx: dict[str, list[dict]] = {}
    for q in questions[:limit]:
        by_ctx.setdefault(q["context"], []).append(q)
    return contexts, by_ctx
