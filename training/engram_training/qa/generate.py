"""RULER-style long-context code QA from parsed code, every answer verified unique.

A context is a set of whole files from one repository. Questions are generated only
from facts inside the context, and each is kept only if its answer is unique there
(one definition of the name, one assignment of the constant, ...) and can be found
on its evidence lines. Records match `engram eval --qa` (DESIGN.md), plus `kind`,
`repo`, `context`, `split`:

    {id, question, answer, evidence:[{path,startLine,endLine}], kind, repo, context, split}

Kinds: definition, constant, param_default, call_chain, describe, unanswerable.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from ..corpus import count_tokens
from .parse import Definition, FileFacts, parse_file

KINDS = ("definition", "constant", "param_default", "call_chain", "describe", "unanswerable")
NOT_FOUND = "not found"
EVIDENCE_MAX_LINES = 30
QA_LANGS = ("python", "javascript", "typescript")


@dataclass
class Context:
    id: str
    repo: str
    split: str
    size_class: str  # "train" (4K-32K), "8k", "32k", "128k" or "repo" (whole repository)
    files: list[FileFacts]
    tokens: int

    def to_json(self) -> dict:
        return {"id": self.id, "repo": self.repo, "split": self.split, "size_class": self.size_class,
                "tokens": self.tokens, "files": [f.path for f in self.files]}


@dataclass
class ContextIndex:
    """Counts over a whole context, for uniqueness checks."""
    defs: dict[str, list[Definition]] = field(default_factory=dict)
    assign_counts: Counter = field(default_factory=Counter)  # name -> textual `name =`/`name:` count
    words: Counter = field(default_factory=Counter)  # identifier -> occurrences
    docs: Counter = field(default_factory=Counter)  # normalised description -> count


_ASSIGN = re.compile(r"(?<![\w$])([A-Za-z_$][\w$]*)\s*(?:=(?![=>])|:(?!:))")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


def _index(files: list[FileFacts]) -> ContextIndex:
    idx = ContextIndex()
    for f in files:
        for d in f.defs:
            idx.defs.setdefault(d.name, []).append(d)
            desc = describe_text(d)
            if desc:
                idx.docs[_norm(desc)] += 1
        idx.assign_counts.update(m.group(1) for m in _ASSIGN.finditer(f.text))
        idx.words.update(_WORD.findall(f.text))
    return idx


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


def _ev(path: str, start: int, end: int) -> dict:
    return {"path": path, "startLine": start, "endLine": min(end, start + EVIDENCE_MAX_LINES - 1)}


def _lines_text(f: FileFacts, start: int, end: int) -> str:
    return "\n".join(f.lines[start - 1:end])


def unique_def(idx: ContextIndex, name: str) -> Definition | None:
    """The one definition of `name` in the context, or None if there are 0 or several,
    or if the name is also assigned elsewhere (an alias would be a second answer)."""
    defs = idx.defs.get(name, [])
    if len(defs) != 1:
        return None
    d = defs[0]
    allowed = 1 if d.via_assignment else 0
    if idx.assign_counts[name] != allowed or len(name) < 3:
        return None
    return d


def describe_text(d: Definition) -> str | None:
    """The docstring's first paragraph with the name removed (RepoQA-style), or None."""
    if not d.doc or d.kind == "class":
        return None
    para = d.doc.strip().split("\n\n")[0]
    para = " ".join(para.split())
    para = re.sub(r"\{@link\s+([^}|\s]+)[^}]*\}", r"\1", para)
    words = para.split()
    if len(words) < 6 or len(words) > 60:
        return None
    pattern = re.compile(r"`?\b" + re.escape(d.name) + r"\b(\(\))?`?", re.IGNORECASE)
    para = pattern.sub("this function", para)
    return para


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _what(d: Definition) -> str:
    if d.kind == "method" and d.owner:
        return f"the method `{d.name}` of the class `{d.owner}`"
    return f"the {d.kind} `{d.name}`"


class Generator:
    """Makes questions for contexts; `decoys` are identifiers from other repositories
    used for unanswerable questions."""

    def __init__(self, seed: int = 0, per_kind: int = 3, decoys: Iterable[str] = (),
                 repo_words: set[str] | None = None, eval_per_kind: int = 12) -> None:
        self.seed = seed
        self.per_kind = per_kind
        self.eval_per_kind = eval_per_kind
        self.repo_words = repo_words or set()
        self.decoys = sorted(set(decoys))
        self.dropped: Counter = Counter()

    def questions(self, ctx: Context) -> list[dict]:
        per_kind = self.eval_per_kind if ctx.size_class == "repo" else self.per_kind
        rng = random.Random(f"{self.seed}:{ctx.id}")
        idx = _index(ctx.files)
        by_path = {f.path: f for f in ctx.files}
        cands: dict[str, list[dict]] = {k: [] for k in KINDS}
        defs = [d for f in ctx.files for d in f.defs]
        rng.shuffle(defs)
        for d in defs:
            u = unique_def(idx, d.name)
            if u is not d:
                continue
            f = by_path[d.path]
            if d.name not in f.lines[d.start - 1] if d.start <= len(f.lines) else True:
                self.dropped["name-not-on-def-line"] += 1
                continue
            cands["definition"].append(self._qa(ctx, "definition", f"Where is {_what(d)} defined?", d.path,
                                                [_ev(d.path, d.start, d.end)]))
            for p in d.params:
                if p.default is None or p.name in ("self", "cls"):
                    continue
                ans = p.default.strip("'\"`")
                if not ans or ans not in _lines_text(f, p.start, p.end):
                    continue
                cands["param_default"].append(self._qa(
                    ctx, "param_default",
                    f"What is the default value of the parameter `{p.name}` of {_what(d)}?", ans,
                    [_ev(d.path, p.start, p.end)]))
            desc = describe_text(d)
            if desc and idx.docs[_norm(desc)] == 1 and d.name.lower() not in desc.lower():
                cands["describe"].append(self._qa(
                    ctx, "describe",
                    f"Which function does the following: \"{desc}\"? Give its name.", d.name,
                    [_ev(d.path, d.start, d.end)]))
            chain = self._chain(idx, d)
            if chain is not None:
                cands["call_chain"].append(chain(ctx))
        for f in ctx.files:
            for c in f.constants:
                if idx.assign_counts[c.name] != 1 or c.name in idx.defs or len(c.name) < 3:
                    continue
                if c.value not in f.lines[c.line - 1]:
                    continue
                cands["constant"].append(self._qa(ctx, "constant", f"What is the value of the constant `{c.name}`?",
                                                  c.value, [_ev(f.path, c.line, c.line)]))
        # Decoys appear nowhere in the repository, not only nowhere in this context.
        decoys = [n for n in self.decoys if idx.words[n] == 0 and n not in self.repo_words and len(n) >= 6]
        rng.shuffle(decoys)
        for n in decoys[:per_kind]:
            q = (f"Where is the function `{n}` defined?" if rng.random() < 0.5
                 else f"What is the value of the constant `{n}`?")
            cands["unanswerable"].append(self._qa(ctx, "unanswerable", q, NOT_FOUND, []))
        out: list[dict] = []
        for kind in KINDS:
            items = cands[kind]
            rng.shuffle(items)
            out.extend(items[:per_kind])
        return out

    def _chain(self, idx: ContextIndex, f_def: Definition):
        """A 2- or 3-hop call chain across files starting at f_def, or None."""
        def cross_callees(d: Definition, exclude: set[str]) -> list[tuple[Definition, int]] | None:
            """The functions of other files that `d` calls, or None when a call could reach one
            whose definition is not unique (the question's "exactly one" would be unverifiable)."""
            seen: dict[str, tuple[Definition, int]] = {}
            for name, line in d.calls:
                # A call by plain name reaches a function; `Foo()` constructs a class, and a method
                # of the same name is not what it calls.
                outside = [x for x in idx.defs.get(name, []) if x.kind == "function" and x.path not in exclude and x is not d]
                if not outside:
                    continue
                g = unique_def(idx, name)
                if g is None or g is not outside[0]:
                    return None
                seen.setdefault(name, (g, line))
            return list(seen.values())

        first = cross_callees(f_def, {f_def.path})
        if first is None or len(first) != 1:
            return None
        g, line_fg = first[0]
        second = cross_callees(g, {f_def.path, g.path})
        if second is None:
            return None
        if len(second) == 1:
            h, line_gh = second[0]
            q = (f"{_cap(_what(f_def))} calls exactly one function defined in another file; "
                 f"that function calls exactly one function defined in a third file. Which function is that?")
            ev = [_ev(f_def.path, line_fg, line_fg), _ev(g.path, line_gh, line_gh), _ev(h.path, h.start, h.end)]
            return lambda ctx: self._qa(ctx, "call_chain", q, h.name, ev, hops=3)
        q = (f"{_cap(_what(f_def))} calls exactly one function defined in another file. "
             f"Which function is it?")
        ev = [_ev(f_def.path, line_fg, line_fg), _ev(g.path, g.start, g.end)]
        return lambda ctx: self._qa(ctx, "call_chain", q, g.name, ev, hops=2)

    @staticmethod
    def _qa(ctx: Context, kind: str, question: str, answer: str, evidence: list[dict], **extra: object) -> dict:
        qid = hashlib.sha256(f"{ctx.id}\0{kind}\0{question}".encode()).hexdigest()[:16]
        rec = {"id": qid, "question": question, "answer": answer, "evidence": evidence, "kind": kind,
               "repo": ctx.repo, "context": ctx.id, "split": ctx.split}
        rec.update(extra)
        return rec


def build_contexts(repo: str, split: str, files: list[tuple[str, str, str]], seed: int = 0,
                   train_range: tuple[int, int] = (4096, 32768), eval_sizes: dict[str, int] | None = None,
                   max_contexts: int = 24) -> list[Context]:
    """Contexts of whole files from one repository.

    Train: sizes drawn from `train_range`, enough contexts to cover the repository about
    once (at most `max_contexts`). Validation and test: the fixed `eval_sizes` the
    repository can fill, plus the whole repository ("repo").
    """
    rng = random.Random(f"{seed}:{repo}")
    facts = [parse_file(p, lang, text) for p, lang, text in files]
    toks = {f.path: count_tokens(f.text) for f in facts}
    total = sum(toks.values())
    out: list[Context] = []

    def grow(target: int, tag: str) -> Context | None:
        fitting = [f for f in facts if toks[f.path] <= target]
        if not fitting:
            return None
        seed_file = rng.choice([f for f in fitting if f.lang in QA_LANGS] or fitting)
        folder = seed_file.path.rsplit("/", 1)[0] if "/" in seed_file.path else ""
        rest = [f for f in fitting if f is not seed_file]
        rng.shuffle(rest)
        rest.sort(key=lambda f: 0 if f.path.startswith(folder) else 1)  # neighbours first
        chosen, n = [seed_file], toks[seed_file.path]
        for f in rest:
            if n >= target * 0.9:
                break
            if n + toks[f.path] <= target:
                chosen.append(f)
                n += toks[f.path]
        chosen.sort(key=lambda f: f.path)
        cid = hashlib.sha256(f"{repo}\0{tag}\0{[f.path for f in chosen]}".encode()).hexdigest()[:16]
        return Context(cid, repo, split, tag.split(":")[0], chosen, n)

    if split == "train":
        lo, hi = train_range
        if total < lo:
            return out
        count = min(max_contexts, max(1, round(total / ((lo + hi) / 2))))
        for i in range(count):
            ctx = grow(rng.randint(lo, min(hi, total)), f"train:{i}")
            if ctx is not None and ctx.tokens >= lo and all(c.id != ctx.id for c in out):
                out.append(ctx)
    else:
        sizes = eval_sizes if eval_sizes is not None else {"8k": 8192, "32k": 32768, "128k": 131072}
        for tag, size in sizes.items():
            if total > size:
                ctx = grow(size, f"{tag}:0")
                if ctx is not None:
                    out.append(ctx)
        cid = hashlib.sha256(f"{repo}\0repo".encode()).hexdigest()[:16]
        out.append(Context(cid, repo, split, "repo", sorted(facts, key=lambda f: f.path), total))
    return out


def verify(qa: dict, files: dict[str, str]) -> bool:
    """The answer is found at its evidence lines (unanswerables: the name is nowhere)."""
    if qa["answer"] == NOT_FOUND:
        name = re.findall(r"`([^`]+)`", qa["question"])[0]
        return not any(re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", t) for t in files.values())
    if qa["kind"] == "definition":
        ev = qa["evidence"][0]
        name = re.findall(r"`([^`]+)`", qa["question"])[0]
        return ev["path"] == qa["answer"] and name in files[ev["path"]].splitlines()[ev["startLine"] - 1]
    last = qa["evidence"][-1]
    lines = files[last["path"]].splitlines()[last["startLine"] - 1:last["endLine"]]
    return qa["answer"] in "\n".join(lines)
