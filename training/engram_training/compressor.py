"""The learned compressor: a small encoder that reads one chunk (or one question) and gives a
per-token keep logit (LLMLingua-2-style token classification: which tokens the chunk's text
form keeps) and a 64-d L2-normalised recall vector (the same encoder embeds questions and
chunks, so cosine ranks chunks for a question). Contract: ../helper-notes/compressor-contract.md
(inputs as the reader's block part: `<block>` then each line tokenized alone, newline token after it).

    python -m engram_training.compressor data   --corpus .data/corpus --qa .data/qa --out .data/compressor
    python -m engram_training.compressor train  --data .data/compressor --out .data/compressor/run --budget-s 900
    python -m engram_training.compressor eval   --data .data/compressor --run .data/compressor/run
    python -m engram_training.compressor export --data .data/compressor --run .data/compressor/run --out ../models/engram-compressor-0.1.0

Keep labels (a token is kept when it has a letter, digit, `_` or `$` and one of these holds; punctuation-only
tokens, whitespace, newlines and closing braces are never kept):
  1. it lies on a QA evidence line (reader.keep_lines: short evidence ranges whole, long ones their
     first line and the lines naming the question's identifiers or the answer), for any question of
     the repository's contexts in that split;
  2. it is an identifier or literal of a definition line or signature (def/class/function/method/
     arrow function/interface/type/struct names, their parameters and defaults), keywords excepted;
  3. it is a name defined somewhere in the repository that at least two chunks mention (names other
     chunks reference), except names in more than a fifth of the chunks;
  4. it is the name or a string/number literal of a constant-like assignment (`NAME = literal`,
     `const x = literal`, `#define NAME value`), or the name of any other top-level assignment.
Comment text (`#`, `//`, `/* */` lines and trailing comments) is kept only through rule 1.

`data --labels lines` (LABEL_RULES) uses whole-line labels a chunk can predict from its own text instead: every
word token of an evidence line (rule 1), of a signature's continuation lines and of the first worded line of the
doc comment after a signature or before a definition (`signature_lines`), and every word token of the code part
of a definition line or signature and of a constant-like assignment whose value starts with a literal; no name-level rules (rule 3 depends on other
chunks, and tokens kept inside a word break the word in the text form).
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import BM25, chunk_file
from .gate import _Layer
from .publish import copy_tokenizer, export_encoder_onnx, update_manifest
from .reader import DEFAULT_TOKENIZER, ReaderEncoder, Window, find_in_line, keep_lines, target_text
from .runs import load_jsonl, pick_device, save_ckpt

MAX_LEN = 256
LINE_MAX = 64  # reader.LINE_MAX: ReaderEncoder.line cuts lines there
DIM = 64
KS = (4, 8, 16)
KEEP_RATE = 0.25  # the paper's compression ratio 4
IGNORE = -1
LABEL_RULES = ("names", "lines")  # "names": rules 1-4 (0.1.0); "lines": whole-line labels (module docstring)
# What the text form keeps: "token" (0.1.0): each token whose keep logit reaches the threshold; "line": each whole
# line whose best token does (so a kept literal or signature is never cut inside, as the "lines" labels mean).
KEEP_UNITS = ("token", "line")
RECALL_VECTORS = ("model", "hashing")  # the engine's recall vectors: the embedding head's, or the structural rules'
FORCE_KEEP = ("none", "literals")  # "literals": the engine also keeps every unindented `NAME = literal` line

# ---------------------------------------------------------------- model


@dataclass
class CompressorConfig:
    vocab_size: int = 12000
    d_model: int = 64
    layers: int = 2
    heads: int = 4
    ff: int = 256
    max_len: int = MAX_LEN
    dim: int = DIM
    dropout: float = 0.1
    # Line pooling (0 = off, as 0.1.0): after each layer every token adds a projection of the mean state of its
    # source line (the tokens up to and including the next newline token, whose id this is), so a token sees
    # at once whether its line is a definition, a constant, a comment.
    newline_id: int = 0


class CompressorModel(nn.Module):
    """input_ids, attention_mask [B,T] int64 -> keep_logits [B,T], embedding [B,dim] (unit length)."""

    def __init__(self, c: CompressorConfig) -> None:
        super().__init__()
        self.config = c
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Embedding(c.max_len, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.layers = nn.ModuleList(_Layer(c) for _ in range(c.layers))  # type: ignore[arg-type]
        self.ln = nn.LayerNorm(c.d_model)
        self.keep = nn.Linear(c.d_model, 1)
        self.emb = nn.Linear(c.d_model, c.dim)
        self.line = nn.ModuleList(nn.Linear(c.d_model, c.d_model) for _ in range(c.layers)) if c.newline_id else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.drop(self.tok(input_ids) + self.pos(pos))
        m = attention_mask.to(x.dtype)
        bias = ((1.0 - m) * -1e4)[:, None, None, :]
        same = None
        if self.line is not None:
            nl = (input_ids == self.config.newline_id).to(x.dtype)
            line = torch.cumsum(nl, 1) - nl  # a newline token ends its line
            same = (line[:, :, None] == line[:, None, :]).to(x.dtype) * m[:, None, :]
            same = same / same.sum(-1, keepdim=True).clamp(min=1.0)
        for i, layer in enumerate(self.layers):
            x = layer(x, bias)
            if self.line is not None and same is not None:
                x = x + self.line[i](same @ x)
        x = self.ln(x)
        keep = self.keep(x).squeeze(-1)
        mean = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        e = self.emb(mean)
        e = e / e.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        return keep, e


# ---------------------------------------------------------------- inputs (the contract)


def chunk_windows(enc: ReaderEncoder, lines: list[str], start_line: int, max_len: int = MAX_LEN) -> list[Window]:
    """`<block>` then whole lines (each tokenized alone, newline after it) up to max_len tokens;
    a longer chunk becomes consecutive windows."""
    return enc.windows([enc.sp["<block>"]], lines, start_line, max_len)


def question_ids(enc: ReaderEncoder, question: str, max_len: int = MAX_LEN) -> list[int]:
    return [enc.sp["<question>"]] + enc.ids(question)[:max_len - 1]


# ---------------------------------------------------------------- labels

KEYWORDS = set("""def class function return async await export default const let var static public private protected
readonly abstract get set new this self cls if else for while in of import from as with try except finally raise throw
lambda yield pass and or not is None True False null undefined true false void int char float double long short
unsigned signed struct enum union typedef extern inline impl pub fn mut trait type interface extends implements
declare namespace module package using typename template virtual override final constexpr auto bool string number
any unknown never object symbol cdef cpdef""".split())
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_DEF = re.compile(
    r"^\s*(?:(?:async\s+)?def\s|(?:cp?def\s)|class\s|(?:export\s+)?(?:default\s+)?(?:abstract\s+)?(?:declare\s+)?"
    r"(?:class|interface|type|enum|namespace)\s|(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b|"
    r"(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?(?:fn|struct|enum|trait|impl)\s|#define\s)"
    r"|^\s*(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\s*)?(?:\([^)]*\)|[\w$]+)\s*(?::[^=]+)?=>"
    r"|^\s*(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*=\s*(?:async\s+)?function\b"
    r"|^\s+(?:(?:static|async|get|set|public|private|protected|readonly|override)\s+)*[A-Za-z_$][\w$]*\s*(?:<[^>]*>)?\([^;]*\)\s*(?::[^{;]+)?\{\s*$"
    r"|^[A-Za-z_][\w\s\*&:<>,]*\b[A-Za-z_]\w*\s*\([^;]*\)?\s*\{?\s*$")
_CONST = re.compile(r"^\s*(?:export\s+)?(?:(?:const|let|var|static|final)\s+)*([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=(?!=)\s*(.*)$"
                    r"|^\s*#define\s+([A-Za-z_]\w*)\s+(.*)$")
_LITERAL = re.compile(r"\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|`[^`]*`?|-?\b\d[\w.]*|\b(?:True|False|None|true|false|null)\b")
_COMMENT = re.compile(r"^\s*(?:#(?!define|include|if|endif|else|pragma)|//|/\*|\*)")
_TRAIL = re.compile(r"\s(?:#|//)\s")


def _comment_from(line: str) -> int:
    """Character offset where the line's comment starts (len(line) when none; rough: ignores strings)."""
    if _COMMENT.match(line):
        return 0
    m = _TRAIL.search(line)
    return m.start() + 1 if m else len(line)


def definition_names(line: str) -> list[tuple[int, int]]:
    """Character spans of identifiers on a definition line (names and parameters), keywords excepted."""
    if not _DEF.match(line):
        return []
    end = _comment_from(line)
    code = line[:end]
    return ([(m.start(), m.end()) for m in _IDENT.finditer(code) if m.group() not in KEYWORDS]
            + [(m.start(), m.end()) for m in _LITERAL.finditer(code)])


def constant_spans(line: str) -> list[tuple[int, int]]:
    """Name and literals of a constant-like assignment whose value starts with a literal; the name
    alone of any other top-level assignment."""
    m = _CONST.match(line)
    if not m:
        return []
    gi = 1 if m.group(1) is not None else 3
    rhs_at = m.start(gi + 1)
    rhs = line[rhs_at:_comment_from(line)]
    lits = [(rhs_at + x.start(), rhs_at + x.end()) for x in _LITERAL.finditer(rhs)]
    name = [(m.start(gi), m.end(gi))]
    if not lits or lits[0][0] - rhs_at > 2:  # the value must start with a literal (maybe after `[`, `(`, `{`)
        return name if not line[:1].isspace() else []  # a top-level assignment defines its name
    return name + lits


def defined_names(line: str) -> set[str]:
    out = set()
    if _DEF.match(line):
        first = [m.group() for m in _IDENT.finditer(line) if m.group() not in KEYWORDS][:1]
        out.update(first)
    m = _CONST.match(line)
    if m and not line[:1].isspace():
        out.add(m.group(1) or m.group(3))
    return {n for n in out if len(n) > 2}


_DOC = re.compile(r"^\s*(?:\"\"\"|'''|/\*|//|#(?!define|include|if|endif|else|pragma)|\*)")
_WORDY = re.compile(r"[A-Za-z]{3}")


def signature_lines(lines: list[str]) -> set[int]:
    """Indices of lines the `lines` rule keeps whole beside definition lines: a signature's continuation lines
    (until its brackets close, at most 8) and the first worded line of the doc comment right after the
    signature (a docstring) or right before the definition (JSDoc, `#`/`//` blocks)."""
    out: set[int] = set()
    n = len(lines)
    for k, line in enumerate(lines):
        if not definition_names(line):
            continue
        depth, j = line.count("(") - line.count(")"), k
        while depth > 0 and j + 1 < n and j - k < 8:
            j += 1
            out.add(j)
            depth += lines[j].count("(") - lines[j].count(")")
        i = j + 1
        while i < n and _DOC.match(lines[i]) and not _WORDY.search(lines[i]):
            i += 1
        if i < n and i > j and _DOC.match(lines[i - 1] if i - 1 > j else lines[i]) and _WORDY.search(lines[i]):
            out.add(i)
        i = k - 1
        while i >= 0 and _DOC.match(lines[i]):
            i -= 1
        i += 1
        while i < k and not _WORDY.search(lines[i]):
            i += 1
        if i < k:
            out.add(i)
    return out


def line_char_mask(line: str, evidence: bool, shared: set[str], rule: str = "names") -> bytearray:
    """Per byte of the line: 1 where a rule keeps it (the token rule then needs a letter or digit)."""
    raw = line.encode()
    mask = bytearray(len(raw))
    if evidence:
        return bytearray(b"\x01" * len(raw))
    if rule == "lines":
        if definition_names(line) or len(constant_spans(line)) > 1:  # a definition, or a literal-valued constant
            code = len(line[:_comment_from(line)].encode())
            mask[:code] = b"\x01" * code
        return mask

    def mark(a: int, b: int) -> None:
        bs, be = len(line[:a].encode()), len(line[:b].encode())
        mask[bs:be] = b"\x01" * (be - bs)

    for a, b in definition_names(line) + constant_spans(line):
        mark(a, b)
    if shared:
        end = _comment_from(line)
        for m in _IDENT.finditer(line[:end]):
            if m.group() in shared:
                mark(m.start(), m.end())
    return mask


def label_window(w: Window, ev_lines: set[int], ans_lines: dict[int, list[tuple[int, int]]], shared: set[str],
                 rule: str = "names"):
    """Per token of the window: keep label (1/0, IGNORE outside lines), evidence-line flag, answer flag."""
    n = len(w.ids)
    keep = np.full(n, IGNORE, dtype=np.int8)
    ev = np.zeros(n, dtype=np.int8)
    ans = np.zeros(n, dtype=np.int8)
    masks = [line_char_mask(text, w.start_line + k in ev_lines, shared, rule) for k, text in enumerate(w.lines)]
    raws = [text.encode() for text in w.lines]
    for t in range(n):
        k = w.line_of[t]
        if k < 0 or not w.spanable[t]:
            continue
        a, b = w.b0[t], w.b1[t]
        piece = raws[k][a:b].decode("utf-8", "ignore")
        word = any(ch.isalnum() or ch in "_$" for ch in piece)
        keep[t] = 1 if word and any(masks[k][a:b]) else 0
        ln = w.start_line + k
        ev[t] = 1 if ln in ev_lines else 0
        for sa, sb in ans_lines.get(ln, []):
            if a < sb and b > sa:
                ans[t] = 1
    return keep, ev, ans


# ---------------------------------------------------------------- data


def _byte_spans(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(len(line[:a].encode()), len(line[:b].encode())) for a, b in spans]


def build_split(corpus: Path, qa: Path, split: str, enc: ReaderEncoder, max_contexts: int | None = None,
                say=None, rule: str = "names") -> dict:
    """Chunks of the split's context files (each (repo, path) once), labelled, with their windows;
    questions with their evidence chunks; each context's chunk list."""
    say = say or (lambda m: print(m, file=sys.stderr, flush=True))
    ctxs = load_jsonl(qa / split / "contexts.jsonl")[:max_contexts]
    qs = [q for q in load_jsonl(qa / split / "qa.jsonl") if q["context"] in {c["id"] for c in ctxs}]
    by_repo: dict[str, set[str]] = {}
    for c in ctxs:
        by_repo.setdefault(c["repo"], set()).update(c["files"])
    chunks: list[dict] = []
    key_of: dict[tuple[str, str, int], int] = {}
    for r, (repo, files) in enumerate(sorted(by_repo.items())):
        texts = {}
        for f in sorted(files):
            p = corpus / "repos" / repo / f
            if p.is_file():
                texts[f] = p.read_text(errors="replace")
        lines_of = {f: t.split("\n") for f, t in texts.items()}
        ev_lines: dict[str, set[int]] = {}
        ans_at: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for q in qs:
            if q["repo"] != repo or q["kind"] == "unanswerable":
                continue
            target = target_text(q)
            for path, ln in keep_lines(q, lines_of, target):
                ev_lines.setdefault(path, set()).add(ln)
            for e in q["evidence"]:
                src = lines_of.get(e["path"], [])
                for ln in range(e["startLine"], e["endLine"] + 1):
                    hit = find_in_line(src[ln - 1], target) if target and 0 < ln <= len(src) else None
                    if hit:
                        ans_at.setdefault((e["path"], ln), []).extend(_byte_spans(src[ln - 1], [hit]))
        blocks = [b for f in sorted(texts) for b in chunk_file(f, texts[f])]
        # rule 3: names defined in the repository and mentioned by at least two chunks
        defined = set()
        for ls in lines_of.values():
            for line in ls:
                defined |= defined_names(line)
        df: dict[str, int] = {}
        for b in blocks:
            for n in set(_IDENT.findall(b.text)) & defined:
                df[n] = df.get(n, 0) + 1
        cap = max(2, len(blocks) // 5)
        for b in blocks:
            names = {n for n in set(_IDENT.findall(b.text)) & defined if 2 <= df[n] <= cap}
            lines = b.text.split("\n")
            evs = ev_lines.get(b.path, set())
            if rule == "lines":
                evs = evs | {b.start + k for k in signature_lines(lines)}
            ans = {ln: s for (p, ln), s in ans_at.items() if p == b.path}
            wins = []
            for w in chunk_windows(enc, lines, b.start):
                k, e, a = label_window(w, evs, ans, names, rule)
                wins.append({"ids": np.array(w.ids, dtype=np.int16), "keep": k, "ev": e, "ans": a,
                             "start": w.start_line, "n_lines": len(w.lines)})
            key_of[(repo, b.path, b.start)] = len(chunks)
            chunks.append({"repo": repo, "path": b.path, "start": b.start, "end": b.end, "text": b.text, "windows": wins})
        say(f"{split}: repo {r + 1}/{len(by_repo)} {repo}: {len(blocks)} chunks")
    contexts = {}
    for c in ctxs:
        files = set(c["files"])
        contexts[c["id"]] = [i for (repo, path, _), i in key_of.items() if repo == c["repo"] and path in files]
    questions = []
    for q in qs:
        if q["kind"] == "unanswerable":
            continue
        cand = contexts.get(q["context"], [])
        evc = [i for i in cand if any(e["path"] == chunks[i]["path"] and e["startLine"] <= chunks[i]["end"]
                                      and e["endLine"] >= chunks[i]["start"] for e in q["evidence"])]
        if not evc:
            continue
        first = q["evidence"][0]["startLine"]
        ws = chunks[evc[0]]["windows"]
        wi = max([j for j, w in enumerate(ws) if w["start"] <= first] or [0])
        questions.append({"id": q["id"], "question": q["question"], "kind": q["kind"], "context": q["context"],
                          "ids": np.array(question_ids(enc, q["question"]), dtype=np.int16),
                          "evidence_chunks": evc, "window": (evc[0], wi)})
    return {"chunks": chunks, "questions": questions, "contexts": contexts}


def build_data(corpus: Path, qa: Path, out: Path, tokenizer: Path = DEFAULT_TOKENIZER,
               max_contexts: int | None = None, rule: str = "names") -> dict:
    enc = ReaderEncoder(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    stats = {}
    for split in ("train", "validation", "test"):
        d = build_split(corpus, qa, split, enc, max_contexts, rule=rule)
        with open(out / f"{split}.pkl", "wb") as fh:
            pickle.dump(d, fh, protocol=pickle.HIGHEST_PROTOCOL)
        ks = np.concatenate([w["keep"] for c in d["chunks"] for w in c["windows"]] or [np.zeros(0, np.int8)])
        stats[split] = {"chunks": len(d["chunks"]), "windows": sum(len(c["windows"]) for c in d["chunks"]),
                        "tokens": int((ks >= 0).sum()), "keep_label_rate": round(float((ks == 1).sum() / max(1, (ks >= 0).sum())), 4),
                        "questions": len(d["questions"]), "contexts": len(d["contexts"]), "label_rule": rule}
    (out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def load_split(data: Path, split: str) -> dict:
    with open(data / f"{split}.pkl", "rb") as fh:
        return pickle.load(fh)


# ---------------------------------------------------------------- training


def _pad(seqs: list[np.ndarray], fill: int = 0, dtype=np.int64) -> np.ndarray:
    t = max(len(s) for s in seqs)
    a = np.full((len(seqs), t), fill, dtype=dtype)
    for r, s in enumerate(seqs):
        a[r, :len(s)] = s
    return a


def _forward_batch(model: CompressorModel, seqs: list[np.ndarray], dev: torch.device):
    ids = torch.from_numpy(_pad(seqs)).to(dev)
    mask = torch.from_numpy(_pad([np.ones(len(s)) for s in seqs])).to(dev)
    return model(ids, mask)


def loss_fn(model: CompressorModel, q_ids: list[np.ndarray], w: list[dict], chunk_of: list[int], extra: list[dict],
            dev: torch.device, tau: float = 0.05, keep_weight: float = 1.0):
    wins = w + extra
    keep, emb = _forward_batch(model, [x["ids"] for x in wins], dev)
    labels = torch.from_numpy(_pad([x["keep"] for x in wins], IGNORE, np.int64)).to(dev)
    valid = labels >= 0
    l_keep = F.binary_cross_entropy_with_logits(keep[valid], labels[valid].float())
    _, qe = _forward_batch(model, q_ids, dev)
    sim = qe @ emb[:len(w)].T / tau
    same = torch.tensor([[a == b for b in chunk_of] for a in chunk_of], device=dev)
    sim = sim.masked_fill(same & ~torch.eye(len(w), dtype=torch.bool, device=dev), -1e4)
    tgt = torch.arange(len(w), device=dev)
    l_nce = (F.cross_entropy(sim, tgt) + F.cross_entropy(sim.T, tgt)) / 2
    return keep_weight * l_keep + l_nce, (l_keep.item(), l_nce.item())


def train(data: Path, run: Path, config: CompressorConfig | None = None, budget_s: float = 900, epochs: float = 3.0,
          batch_size: int = 48, lr: float = 2e-3, seed: int = 0, device: str = "auto", log=None,
          keep_windows: int | None = None, keep_weight: float = 1.0, init: Path | None = None) -> dict:
    """Trains until `epochs` (over the train questions) or `budget_s`; resumes from run/ckpt.pt. Each step's keep
    loss sees the questions' evidence windows plus `keep_windows` random ones (default batch_size // 2), weighted
    `keep_weight`; `init`: a run whose weights a fresh run starts from (its config too)."""
    say = log or (lambda m: print(m, file=sys.stderr, flush=True))
    torch.manual_seed(seed)
    dev = pick_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    d = load_split(data, "train")
    chunks, qs = d["chunks"], d["questions"]
    all_w = [w for c in chunks for w in c["windows"]]
    c = config or CompressorConfig()
    run.mkdir(parents=True, exist_ok=True)
    ckpt = run / "ckpt.pt"
    step, seen_s = 0, 0.0
    state = torch.load(ckpt, map_location=dev, weights_only=False) if ckpt.exists() else None
    if state:
        c = CompressorConfig(**state["config"])
    elif init is not None:  # the init run's shape; line pooling as asked (new, starting at zero: same outputs)
        c = replace(CompressorConfig(**json.loads((init / "train.json").read_text())["config"]),
                    newline_id=config.newline_id if config else 0)
    model = CompressorModel(c).to(dev)
    if not state and init is not None:
        missing, unexpected = model.load_state_dict(torch.load(init / "model.pt", map_location=dev, weights_only=True),
                                                    strict=False)
        if unexpected or any(not k.startswith("line.") for k in missing):
            raise ValueError(f"{init}: weights do not fit: missing {missing}, unexpected {unexpected}")
        if model.line is not None and missing:  # new line pooling starts at zero: the init run's outputs
            for lin in model.line:
                nn.init.zeros_(lin.weight)
                nn.init.zeros_(lin.bias)
        say(f"initialised from {init}")
    n_extra = batch_size // 2 if keep_windows is None else keep_windows
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, seen_s = state["step"], state["seconds"]
        say(f"resumed at step {step}")
    total = max(1, int(epochs * len(qs) / batch_size))
    rng = random.Random(seed * 1000003 + step)
    t0, last_save = time.time(), time.time()
    hist: list[tuple[float, float]] = []
    model.train()
    while step < total:
        elapsed = seen_s + time.time() - t0
        if elapsed >= budget_s:
            break
        picked = rng.sample(qs, min(batch_size, len(qs)))
        w = [chunks[q["window"][0]]["windows"][q["window"][1]] for q in picked]
        extra = rng.sample(all_w, min(n_extra, len(all_w)))
        frac = max(step / total, elapsed / budget_s)
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
        loss, parts = loss_fn(model, [q["ids"] for q in picked], w, [q["window"][0] for q in picked], extra, dev,
                              keep_weight=keep_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        hist.append(parts)
        step += 1
        if step % 20 == 0:
            h = np.mean(hist[-50:], axis=0)
            say(f"step {step}/{total} keep {h[0]:.3f} nce {h[1]:.3f} {seen_s + time.time() - t0:.0f}s")
        if time.time() - last_save > 120:
            save_ckpt(ckpt, model, opt, step, seen_s + time.time() - t0, c)
            last_save = time.time()
    seconds = seen_s + time.time() - t0
    save_ckpt(ckpt, model, opt, step, seconds, c)
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, run / "model.pt")
    info = {"config": asdict(c), "steps": step, "seconds": round(seconds, 1), "batch_size": batch_size, "lr": lr,
            "seed": seed, "train_questions": len(qs), "train_windows": len(all_w), "keep_windows": n_extra,
            "keep_weight": keep_weight, "init": str(init) if init is not None else None,
            "epochs_seen": round(step * batch_size / max(1, len(qs)), 2),
            "device_name": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
            "final_loss": dict(zip(("keep", "infonce"), map(float, np.mean(hist[-50:], axis=0)))) if hist else None}
    (run / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    say(f"trained {step} steps in {seconds:.0f}s")
    return info


def load_model(run: Path) -> CompressorModel:
    info = json.loads((run / "train.json").read_text())
    model = CompressorModel(CompressorConfig(**info["config"]))
    model.load_state_dict(torch.load(run / "model.pt", map_location="cpu", weights_only=True))
    return model.eval()


def run_from_onnx(folder: Path, out: Path) -> dict:
    """A run folder (train.json with the card's keep threshold + model.pt) holding the weights of a
    shipped compressor's ONNX, so joint RL can start from it when its training run is not at hand."""
    from .publish import weights_from_onnx
    cfg = json.loads((folder / "config.json").read_text())
    onnx_file = folder / "onnx" / "model.onnx"
    arch = {k: cfg[k] for k in ("vocab_size", "d_model", "layers", "heads", "ff", "max_len", "dim")}
    errors = []
    for newline_id in (0, cfg.get("newline_token", 0)):  # line pooling or not: the file's weights say
        c = CompressorConfig(**arch, newline_id=newline_id)
        model = CompressorModel(c)
        try:
            model.load_state_dict(weights_from_onnx(model, onnx_file))
            break
        except ValueError as e:
            errors.append(str(e))
    else:
        raise ValueError(f"{onnx_file} is not an Engram compressor: {'; '.join(errors)}")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(11, c.vocab_size, (2, 40), generator=g).numpy()
    mask = np.ones_like(ids)
    mask[1, 30:] = 0
    (k1, e1), (k2, e2) = torch_forward(model.eval())(ids, mask), onnx_forward(onnx_file)(ids, mask)
    gap = max(float(np.abs(k1 - k2)[mask.astype(bool)].max()), float(np.abs(e1 - e2).max()))
    if gap > 1e-4:
        raise ValueError(f"weights read back from {onnx_file} give other outputs (max |delta| {gap:.3g})")
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / "model.pt")
    info = {"config": asdict(c), "from_onnx": str(onnx_file), "version": folder.name, "steps": 0,
            "keep_threshold": cfg["keep_threshold"], "onnx_max_abs_diff": gap}
    (out / "train.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


# ---------------------------------------------------------------- evaluation


def torch_forward(model: CompressorModel):
    def f(ids: np.ndarray, mask: np.ndarray):
        with torch.no_grad():
            k, e = model(torch.from_numpy(ids), torch.from_numpy(mask))
        return k.numpy(), e.numpy()
    return f


def onnx_forward(path: Path):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return lambda ids, mask: tuple(sess.run(["keep_logits", "embedding"], {"input_ids": ids, "attention_mask": mask}))


def run_seqs(seqs: list[np.ndarray], forward, batch_size: int = 32) -> tuple[list[np.ndarray], np.ndarray]:
    """Keep logits per sequence and embeddings, batched by similar length."""
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    keeps: list[np.ndarray] = [np.zeros(0)] * len(seqs)
    embs = np.zeros((len(seqs), DIM), dtype=np.float32)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        part = [seqs[i].astype(np.int64) for i in idx]
        ids = _pad(part)
        mask = _pad([np.ones(len(p)) for p in part])
        k, e = forward(ids, mask)
        for r, i in enumerate(idx):
            keeps[i] = k[r, :len(seqs[i])]
            embs[i] = e[r]
    return keeps, embs


def chunk_embeddings(d: dict, win_embs: np.ndarray) -> np.ndarray:
    """A chunk's vector: the normalised mean of its windows' vectors."""
    out = np.zeros((len(d["chunks"]), win_embs.shape[1]), dtype=np.float32)
    j = 0
    for i, c in enumerate(d["chunks"]):
        n = len(c["windows"])
        v = win_embs[j:j + n].mean(0)
        out[i] = v / max(1e-6, float(np.linalg.norm(v)))
        j += n
    return out


def predict_split(d: dict, forward) -> dict:
    wins = [w for c in d["chunks"] for w in c["windows"]]
    keeps, wemb = run_seqs([w["ids"] for w in wins], forward)
    _, qemb = run_seqs([q["ids"] for q in d["questions"]], forward)
    return {"keeps": keeps, "chunk_emb": chunk_embeddings(d, wemb), "q_emb": qemb}


def line_scores(ids: np.ndarray, keep: np.ndarray, valid: np.ndarray, newline_id: int) -> np.ndarray:
    """Each valid token's logit replaced by the best valid logit of its source line (keep unit "line")."""
    nl = ids == newline_id
    line = np.cumsum(nl) - nl  # a newline token ends its line
    best = np.full(int(line.max()) + 1 if len(line) else 0, -np.inf, dtype=np.float32)
    np.maximum.at(best, line[valid], keep[valid])
    out = keep.astype(np.float32).copy()
    out[valid] = best[line[valid]]
    return out


def unit_keeps(d: dict, keeps: list[np.ndarray], unit: str, newline_id: int) -> list[np.ndarray]:
    """The logits the keep rule compares with the threshold, per window, for a keep unit."""
    if unit == "token":
        return keeps
    wins = [w for c in d["chunks"] for w in c["windows"]]
    return [line_scores(w["ids"].astype(np.int64), k, w["keep"] >= 0, newline_id) for w, k in zip(wins, keeps)]


def keep_figures(d: dict, keeps: list[np.ndarray], threshold: float) -> dict:
    wins = [w for c in d["chunks"] for w in c["windows"]]
    lab = np.concatenate([w["keep"] for w in wins])
    ev = np.concatenate([w["ev"] for w in wins]).astype(bool)
    ans = np.concatenate([w["ans"] for w in wins]).astype(bool)
    k = np.concatenate(keeps) >= threshold
    valid = lab >= 0
    kept = k & valid
    tp = int((kept & (lab == 1)).sum())
    return {"tokens_in": int(valid.sum()), "tokens_kept": int(kept.sum()),
            "compression_ratio": round(float(valid.sum() / max(1, kept.sum())), 3),
            "evidence_tokens_kept": round(float((kept & ev).sum() / max(1, (valid & ev).sum())), 4),
            "answer_tokens_kept": round(float((kept & ans).sum() / max(1, (valid & ans).sum())), 4),
            "label_keep_rate": round(float((lab == 1).sum() / max(1, valid.sum())), 4),
            "label_precision": round(tp / max(1, int(kept.sum())), 4),
            "label_recall": round(tp / max(1, int((lab == 1).sum())), 4)}


def recall_figures(d: dict, q_emb: np.ndarray, chunk_emb: np.ndarray) -> dict:
    """Mean recall@k of the evidence chunks among the context's chunks: embedding cosine vs BM25."""
    bm25_of: dict[str, BM25] = {}
    res = {"embedding": {k: [] for k in KS}, "bm25": {k: [] for k in KS}}
    for qi, q in enumerate(d["questions"]):
        cand = d["contexts"][q["context"]]
        if q["context"] not in bm25_of:
            bm25_of[q["context"]] = BM25([d["chunks"][i]["text"] for i in cand])
        ev = set(q["evidence_chunks"])
        cos = chunk_emb[cand] @ q_emb[qi]
        bm = np.array(bm25_of[q["context"]].scores(q["question"]))
        for name, s in (("embedding", cos), ("bm25", bm)):
            ranked = [cand[i] for i in np.argsort(-s, kind="stable")]
            for k in KS:
                res[name][k].append(len(ev & set(ranked[:k])) / len(ev))
    return {name: {f"recall@{k}": round(float(np.mean(v)), 4) if v else None for k, v in r.items()}
            | {"questions": len(d["questions"])} for name, r in res.items()}


def evaluate(data: Path, run: Path | None = None, forward=None, threshold: float | None = None,
             keep_rate: float = KEEP_RATE, unit: str = "token") -> dict:
    """keep_threshold chosen on validation (about KEEP_RATE of the tokens kept, by the keep unit's rule), figures
    on test; a given `threshold` is used as it is (a run whose keep rate RL chose: reader_rl --joint-compressor)."""
    fwd = forward or torch_forward(load_model(run))  # type: ignore[arg-type]
    nl = ReaderEncoder(DEFAULT_TOKENIZER).nl
    val = load_split(data, "validation")
    pv = predict_split(val, fwd)
    kv = unit_keeps(val, pv["keeps"], unit, nl)
    valid = np.concatenate([w["keep"] for c in val["chunks"] for w in c["windows"]]) >= 0
    logits = np.concatenate(kv)[valid]
    th = threshold if threshold is not None else float(np.quantile(logits, 1 - keep_rate)) if len(logits) else 0.0
    test = load_split(data, "test")
    pt = predict_split(test, fwd)
    out = {"keep_threshold": round(th, 4), "keep_rate": keep_rate, "keep_unit": unit,
           "validation": keep_figures(val, kv, th),
           "test": {**keep_figures(test, unit_keeps(test, pt["keeps"], unit, nl), th),
                    "recall": recall_figures(test, pt["q_emb"], pt["chunk_emb"])}}
    if run is not None:
        (run / "eval.json").write_text(json.dumps(out, indent=1) + "\n")
    return out


# ---------------------------------------------------------------- text form (the contract)


def text_form(w: Window, keep: np.ndarray, threshold: float, unit: str = "token") -> str:
    """`N| ` + kept tokens' source text per line, a single space where tokens were dropped between them;
    keep unit "line": `N| ` + the whole line (trimmed) when its best token reaches the threshold (the engine
    also keeps a chunk's best line when none does)."""
    best: dict[int, float] = {}
    for t in range(len(w.ids) if unit == "line" else 0):
        if w.spanable[t]:
            best[w.line_of[t]] = max(best.get(w.line_of[t], -math.inf), float(keep[t]))
    out = []
    for k, line in enumerate(w.lines):
        if unit == "line":
            if best.get(k, -math.inf) >= threshold and line.strip():
                out.append(f"{w.start_line + k}| {line.strip()}")
            continue
        raw = line.encode()
        parts: list[str] = []
        gap = False
        for t in range(len(w.ids)):
            if w.line_of[t] != k or not w.spanable[t]:
                continue
            if keep[t] >= threshold:
                piece = raw[w.b0[t]:w.b1[t]].decode("utf-8", "replace")
                if parts and gap:
                    parts.append(" ")
                parts.append(piece.strip() if not parts or gap else piece)
                gap = False
            else:
                gap = True
        if parts:
            out.append(f"{w.start_line + k}| " + "".join(parts).strip())
    return "\n".join(out)


# ---------------------------------------------------------------- export

OUTPUTS = ["keep_logits", "embedding"]


def export_onnx(model: CompressorModel, onnx_dir: Path) -> dict:
    """ONNX fp32 and int8; max |delta| against PyTorch per output on other shapes than the export's."""
    c = model.config
    return export_encoder_onnx(model, onnx_dir, OUTPUTS, {"keep_logits"}, c.max_len, c.vocab_size)


KEEP_RULES = {"token": "keep a token when keep_logits >= keep_threshold (a logit)",
              "line": "keep a whole line when the largest keep_logits of its tokens >= keep_threshold (a logit)"}


def compressor_config(model: CompressorModel, threshold: float, tokenizer_json: Path, unit: str = "token",
                      recall: str = "model", force: str = "none") -> dict:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_json))
    c = model.config
    return {"model_type": "engram-compressor", "architectures": ["CompressorModel"], "vocab_size": c.vocab_size,
            "d_model": c.d_model, "layers": c.layers, "heads": c.heads, "ff": c.ff, "max_len": c.max_len,
            "line_max_tokens": LINE_MAX, "dim": c.dim,
            "special_tokens": {t: tok.token_to_id(t) for t in ("<s>", "<question>", "<block>")},
            "newline_token": tok.token_to_id("\u010a"), "keep_threshold": threshold, "keep_unit": unit,
            "recall_vector": recall, "force_keep": force,
            "keep_rule": KEEP_RULES[unit],
            "inputs": "chunk: <block> LINE \\n LINE \\n ... (each line tokenized alone, <= line_max_tokens); "
                      "question: <question> QUESTION (<= max_len - 1)",
            "outputs": OUTPUTS}


def publish(data: Path, run: Path, out: Path, tokenizer_dir: Path, manifest: Path | None, version: str = "0.1.0",
            keep_rate: float = KEEP_RATE, unit: str = "token", recall: str = "model", force: str = "none") -> dict:
    """ONNX, config, tokenizer, card into `out`; a manifest entry unless `manifest` is None (a trial export)."""
    model = load_model(run)
    info = json.loads((run / "train.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    parity = export_onnx(model, out / "onnx")
    copy_tokenizer(tokenizer_dir, out)
    # Figures of the shipped fp32 file through onnxruntime; int8 for comparison.
    fixed = info.get("keep_threshold")  # set by RL (reader_rl --joint-compressor): its policy's keep rule
    ev = evaluate(data, None, onnx_forward(out / "onnx" / "model.onnx"), fixed, keep_rate, unit)
    ev8 = evaluate(data, None, onnx_forward(out / "onnx" / "model_quantized.onnx"), fixed, keep_rate, unit)
    (run / "eval_onnx.json").write_text(json.dumps({"fp32": ev, "int8": ev8}, indent=1) + "\n")
    (out / "config.json").write_text(json.dumps(compressor_config(model, ev["keep_threshold"], tokenizer_dir / "tokenizer.json", unit, recall, force), indent=1) + "\n")
    n_params = sum(p.numel() for p in model.parameters())
    stats = json.loads((data / "stats.json").read_text()) if (data / "stats.json").exists() else {}
    (out / "README.md").write_text(model_card(version, model, info, ev, ev8, parity, stats, n_params, recall, force))
    t = ev["test"]
    entry = {"name": "engram-compressor", "role": "compressor", "version": version, "path": out.name,
             "eval": {"test": {k: t[k] for k in ("compression_ratio", "evidence_tokens_kept", "answer_tokens_kept")},
                      "recall": t["recall"], "keep_threshold": ev["keep_threshold"], "keep_unit": unit,
                      "recall_vector": recall, "force_keep": force, "onnxParity": parity, "parameters": n_params}}
    if manifest is not None:
        update_manifest(manifest, entry, manifest.parent)
    return {"out": str(out), "parity": parity, "parameters": n_params, "eval": ev}


def model_card(version: str, model: CompressorModel, info: dict, ev: dict, ev8: dict, parity: dict, stats: dict,
               n_params: int, recall: str = "model", force: str = "none") -> str:
    c = model.config
    t, t8, v = ev["test"], ev8["test"], ev["validation"]
    r = t["recall"]
    rows = "\n".join(f"| {name} | " + " | ".join(str(r[name][f'recall@{k}']) for k in KS) + " |"
                     for name in ("embedding", "bm25"))
    r8 = t8["recall"]["embedding"]
    return f"""# engram-compressor {version}

Engram's learned compressor (issue 5): one small encoder that reads a chunk and gives, per token,
whether the chunk's compressed text form keeps it (LLMLingua-2-style token classification), and a
64-d unit vector for recall (questions go through the same encoder: cosine ranks chunks).
Trained from scratch by `training/` (`python -m engram_training.compressor`).

- Architecture: {c.layers}-layer pre-LN transformer encoder, d={c.d_model}, {c.heads} heads, ff={c.ff},
  {n_params / 1e6:.2f}M parameters (most in the 12K token embedding), windows of up to {c.max_len} tokens
  (engram-tokenizer, byte-level BPE). Heads: `keep_logits` [batch, seq] (linear per token) and
  `embedding` [batch, {c.dim}] (masked mean of the final states, linear, L2-normalised).
- Input: a chunk is `<block>` then each source line tokenized alone (<= 64 tokens) and the newline
  token, in windows of whole lines; a question is `<question>` then its tokens. A chunk's vector is the
  normalised mean of its windows' vectors. {_keep_sentence(ev)} (config.json `keep_unit` and
  `keep_threshold`, a logit, chosen on validation so that about {ev.get('keep_rate', KEEP_RATE):.0%} of tokens are kept).
- Recall: {_RECALL[recall]}{_FORCE[force]}
- Files: `onnx/model.onnx` (fp32), `onnx/model_quantized.onnx` (int8 dynamic quantization).
  ONNX vs PyTorch max |delta|: fp32 keep_logits {parity['fp32']['keep_logits']:.1e}, embedding {parity['fp32']['embedding']:.1e};
  int8 keep_logits {parity['int8']['keep_logits']:.1e}, embedding {parity['int8']['embedding']:.1e}.

## Data and labels
Chunks (training/engram_training/blocks.py `chunk_file`, <= 512 estimated tokens) of the files of the
QA contexts (training/README.md sections 1-2), split by repository; test and validation repositories
are never seen in training. {_LABELS[stats.get('train', {}).get('label_rule', 'names')]}
Label rule: `{stats.get('train', {}).get('label_rule', 'names')}` (module docstring).
Label keep rate: train {stats.get('train', {}).get('keep_label_rate', '?')}, test {stats.get('test', {}).get('keep_label_rate', '?')}.
Recall vector: InfoNCE (temperature 0.05, in-batch negatives, both directions) between each train
question and the window of its evidence chunk holding the evidence's first line.
Train: {info['train_questions']} questions, {info['train_windows']} chunk windows.

## Training budget
{info['steps']} steps (batch {info['batch_size']} questions + {info.get('keep_windows', info['batch_size'] // 2)} random windows for the keep loss),
{info['epochs_seen']} epochs over the questions, {info['seconds']:.0f} s on {info['device_name']}{" (2 shared cores)" if info['device_name'] == "cpu" else ""},
AdamW lr {info['lr']}, cosine schedule, seed {info['seed']}{f", from {info['init']}" if info.get('init') else ""}.
Loss: {info.get('keep_weight', 1.0)} x BCE on keep + InfoNCE.{" Line pooling after each layer (CompressorConfig.newline_id)." if c.newline_id else ""}
Final losses: {', '.join(f"{k} {val:.3f}" for k, val in (info.get('final_loss') or {}).items())}.
{_rl_note(info)}
## Evaluation (held-out test repositories: esprima, rxjs, io-ts, tomli, pyparsing, six), fp32 ONNX
Keep, over every chunk of the test contexts ({t['tokens_in']} tokens): compression ratio (tokens in /
kept) {t['compression_ratio']}; evidence-line tokens kept {t['evidence_tokens_kept']}; answer tokens kept
{t['answer_tokens_kept']}; agreement with the labels: precision {t['label_precision']}, recall {t['label_recall']}
(label keep rate {t['label_keep_rate']}). Validation (where the threshold was set): ratio {v['compression_ratio']}.
int8: ratio {t8['compression_ratio']}, evidence kept {t8['evidence_tokens_kept']}, answer kept {t8['answer_tokens_kept']}.

Recall of the evidence chunk(s) among all chunks of the question's context, {r['embedding']['questions']} answerable questions:

| ranker | recall@4 | recall@8 | recall@16 |
|---|---|---|---|
{rows}

int8 embedding: {', '.join(f"recall@{k} {r8[f'recall@{k}']}" for k in KS)}.
"""


_LABELS = {
    "names": """Keep labels, per token (it must have a letter, digit, `_` or `$`;
punctuation-only tokens, whitespace, newlines and closing braces are never kept): tokens on QA
evidence lines; identifiers and literals of definition lines and signatures (names, parameters,
defaults; keywords excepted); names defined in the repository that several chunks mention (at most
a fifth of them); names and literals of constant-like assignments, and the names of other
top-level assignments. Comment text counts only on evidence lines.""",
    "lines": """Keep labels, whole lines (every token with a letter, digit, `_` or `$`
of the line): QA evidence lines; definition lines and signatures with their continuation lines and the
first worded line of their doc comment; constant-like assignments whose value starts with a literal.
Nothing that depends on other chunks or on a part of a word.""",
}


_FORCE = {
    "none": "",
    "literals": "\n- Forced lines (config.json `force_keep`: `literals`): the engine also keeps every unindented constant with\n"
                "  a literal value (`NAME = 250`, the structural rules' Literal lines), whatever the model scores; the module\n"
                "  figures below are the model's own keeps.",
}

_RECALL = {
    "model": "the engine ranks chunks by the `embedding` head (config.json `recall_vector`: `model`).",
    "hashing": "the engine ranks chunks by the structural rules' hashed word vectors (config.json `recall_vector`:\n"
               "  `hashing`): they rank near-twin definitions better than this model's `embedding` head (figures below);\n"
               "  the model gives the text form.",
}


def _keep_sentence(ev: dict) -> str:
    if ev.get("keep_unit", "token") == "line":
        return f"Keep a whole line when the largest `keep_logits` of its tokens is >= {ev['keep_threshold']}"
    return f"Keep a token when `keep_logits >= {ev['keep_threshold']}`"


def _rl_note(info: dict) -> str:
    rl = info.get("rl")
    if not rl:
        return ""
    return (f"\nThen trained jointly with the extractive reader by RL (`reader_rl --joint-compressor`): {rl['steps']} steps,\n"
            f"{rl['seconds']:.0f} s, reward {rl.get('reward', {})}; the keep threshold is the one the RL policy sampled\n"
            f"around (sigmoid(keep_logit - {info['keep_threshold']})), not re-tuned to a 25% keep rate.\n")


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.compressor", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="labelled chunks, questions and contexts per split")
    d.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    d.add_argument("--qa", type=Path, default=Path(".data/qa"))
    d.add_argument("--out", type=Path, default=Path(".data/compressor"))
    d.add_argument("--tokenizer", type=Path, default=DEFAULT_TOKENIZER)
    d.add_argument("--max-contexts", type=int, default=None)
    d.add_argument("--labels", choices=LABEL_RULES, default="names", help="keep-label rules (module docstring)")
    t = sub.add_parser("train", help="train (resumes from RUN/ckpt.pt)")
    t.add_argument("--data", type=Path, default=Path(".data/compressor"))
    t.add_argument("--out", type=Path, default=Path(".data/compressor/run"))
    t.add_argument("--budget-s", type=float, default=900)
    t.add_argument("--epochs", type=float, default=3.0)
    t.add_argument("--batch-size", type=int, default=48)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--d-model", type=int, default=64)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--keep-windows", type=int, default=None, help="random windows a step for the keep loss (batch/2)")
    t.add_argument("--keep-weight", type=float, default=1.0, help="weight of the keep loss against InfoNCE")
    t.add_argument("--init", type=Path, default=None, help="start a fresh run from this run's weights")
    t.add_argument("--line-pool", action="store_true", help="add line pooling after each layer (CompressorConfig)")
    o = sub.add_parser("from-onnx", help="a run folder with the weights of a shipped compressor (to start joint RL from)")
    o.add_argument("--model", type=Path, required=True, help="a shipped compressor folder, e.g. ../models/engram-compressor-0.2.1")
    o.add_argument("--out", type=Path, required=True)
    e = sub.add_parser("eval", help="threshold on validation, figures on test")
    e.add_argument("--data", type=Path, default=Path(".data/compressor"))
    e.add_argument("--run", type=Path, default=Path(".data/compressor/run"))
    e.add_argument("--threshold", type=float, default=None,
                   help="keep logit threshold to score (default: the one keeping --keep-rate of validation tokens)")
    e.add_argument("--keep-rate", type=float, default=KEEP_RATE)
    e.add_argument("--keep-unit", choices=KEEP_UNITS, default="token", help="what the text form keeps: tokens or whole lines")
    x = sub.add_parser("export", help="ONNX fp32+int8, config, tokenizer, card, manifest entry")
    x.add_argument("--data", type=Path, default=Path(".data/compressor"))
    x.add_argument("--run", type=Path, default=Path(".data/compressor/run"))
    x.add_argument("--out", type=Path, default=Path("../models/engram-compressor-0.1.0"))
    x.add_argument("--tokenizer-dir", type=Path, default=DEFAULT_TOKENIZER.parent)
    x.add_argument("--manifest", type=Path, default=Path("../models/manifest.json"))
    x.add_argument("--version", default="0.1.0")
    x.add_argument("--keep-rate", type=float, default=KEEP_RATE, help="share of validation tokens kept (sets keep_threshold)")
    x.add_argument("--no-manifest", action="store_true", help="a trial export: leave the manifest alone")
    x.add_argument("--keep-unit", choices=KEEP_UNITS, default="token", help="what the text form keeps: tokens or whole lines")
    x.add_argument("--recall-vector", choices=RECALL_VECTORS, default="model",
                   help="the engine's recall vectors: the model's embedding head, or the structural rules' hashing")
    x.add_argument("--force-keep", choices=FORCE_KEEP, default="none",
                   help="lines the engine keeps whatever the model scores: none, or unindented constants with a literal value")
    a = ap.parse_args(argv)
    if a.cmd == "data":
        res = build_data(a.corpus, a.qa, a.out, a.tokenizer, a.max_contexts, a.labels)
    elif a.cmd == "train":
        cfg = CompressorConfig(d_model=a.d_model, layers=a.layers, ff=4 * a.d_model,
                               newline_id=ReaderEncoder(DEFAULT_TOKENIZER).nl if a.line_pool else 0)
        res = train(a.data, a.out, cfg, a.budget_s, a.epochs, a.batch_size, a.lr, a.seed, a.device,
                    keep_windows=a.keep_windows, keep_weight=a.keep_weight, init=a.init)
    elif a.cmd == "from-onnx":
        try:
            res = run_from_onnx(a.model, a.out)
        except (OSError, KeyError, ValueError) as e:
            raise SystemExit(f"compressor from-onnx: {e}")
    elif a.cmd == "eval":
        res = evaluate(a.data, a.run, threshold=a.threshold, keep_rate=a.keep_rate, unit=a.keep_unit)
    else:
        res = publish(a.data, a.run, a.out, a.tokenizer_dir, None if a.no_manifest else a.manifest, a.version,
                      a.keep_rate, a.keep_unit, a.recall_vector, a.force_keep)
        res = {k: v for k, v in res.items() if k != "eval"} | {"test": res["eval"]["test"]}
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
