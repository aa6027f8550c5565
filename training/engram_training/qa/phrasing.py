"""Held-out questions reworded the way people type them ("which file defines LineStart?",
"what's the default for timeout in connect?"), to measure how the engine reads plain words
(`eval --phrasing natural`). The generator's questions name code in backticks and follow one
template per kind; these drop the backticks and vary the wording. Templates whose id starts
with `ctl-` are controls: wordings the engine is not built to read, kept to show what it does
with them.

A describe question is turned around: it names the function and asks what it does, and the
expected answer is the first words of the description (its documentation's own words).
"""

from __future__ import annotations

import random
import re

Template = tuple[str, str]

TEMPLATES: dict[str, tuple[Template, ...]] = {
    "definition": (
        ("where-defined", "where is {n} defined?"), ("which-file", "which file defines {n}?"), ("find-kind", "find the {k} {n}"),
        ("where-can-i", "where can I find the {n} {k}?"), ("show-def", "show me the definition of {n}"),
        ("implemented", "in which file is {n} implemented?"), ("wheres", "where's {n}?"), ("goto", "go to {n}"),
        ("located", "where is the {n} {k} located?"), ("ctl-lookup", "look up {n} for me"),
    ),
    "constant": (
        ("set-to", "what is {n} set to?"), ("whats-value", "what's the value of {n}?"), ("equal", "what does {n} equal?"),
        ("value-have", "what value does {n} have?"), ("what-is", "what is {n}?"), ("ctl-eq", "{n} = ?"), ("ctl-how-set", "how is {n} set?"),
    ),
    "param_default": (
        ("default-for-in", "what's the default for {p} in {f}?"), ("default-to", "what does {p} default to in {f}?"),
        ("default-arg-of", "default value of the {p} argument of {f}"), ("fs-default", "what is {f}'s default for {p}?"),
        ("ctl-dont-pass", "if I don't pass {p} to {f}, what value does it get?"),
    ),
    "call_chain": (
        ("which-another", "which function in another file does {f} call?"), ("call-different", "what does {f} call from a different file?"),
        ("ctl-semicolon", "{f} calls a function from another file; which one?"),
    ),
    "describe": (
        ("what-do", "what does {n} do?"), ("what-for", "what is {n} for?"), ("explain", "explain {n}"),
        ("ctl-about", "tell me what {n} is about"),
    ),
}

# Wordings written after the engine's rules were (`--phrasing heldout`): how far the reading generalizes.
HELDOUT: dict[str, tuple[Template, ...]] = {
    "definition": (
        ("what-file-has", "what file has {n}?"), ("looking-for", "I'm looking for the {n} {k}"), ("declared", "where's {n} declared?"),
        ("be-found", "where can {n} be found?"), ("source-of", "source of {n}"), ("defined-where", "{n} is defined where?"),
    ),
    "constant": (
        ("whats", "what's {n}?"), ("value-q", "value of {n}?"), ("equal-to", "what is {n} equal to?"),
        ("x-value", "{n} value"), ("tell-value", "tell me the value of {n}"),
    ),
    "param_default": (
        ("default-of-in", "default of {p} in {f}?"), ("fs-p-default", "{f}'s {p} default"), ("ps-default-in", "what's {p}'s default value in {f}?"),
        ("use-by-default", "what does {f} use for {p} by default?"),
    ),
    "call_chain": (
        ("other-file-fn", "which other-file function does {f} call?"), ("calls-which", "{f} calls which function from another file?"),
        ("defined-elsewhere", "what function defined elsewhere does {f} call?"),
    ),
    "describe": (
        ("purpose", "what's the purpose of {n}?"), ("describe", "describe {n}"), ("used-for", "what is {n} used for?"),
        ("the-function-do", "what does the function {n} do?"),
    ),
}

# A second set, written before the engine's fallback reading of plain words (`--phrasing heldout2`).
HELDOUT2: dict[str, tuple[Template, ...]] = {
    "definition": (
        ("where-do-i-find", "where do I find {n}?"), ("which-module", "which module is {n} in?"), ("need-definition", "need the definition of {n}"),
        ("location", "{n} location?"), ("path-to", "path to {n}"), ("get-defined", "where does {n} get defined?"),
    ),
    "constant": (
        ("assigned-to", "what's the value assigned to {n}?"), ("set-to-what", "{n} is set to what?"), ("what-value-is", "what value is {n}?"),
        ("current-value", "current value of {n}"),
    ),
    "param_default": (
        ("colon-default", "{f}: default for {p}?"), ("default-p-of", "what's the default {p} of {f}?"), ("in-f-by-default", "in {f}, what is {p} by default?"),
        ("default-p-for", "default {p} for {f}"),
    ),
    "call_chain": (
        ("calls-what", "{f} calls what in another file?"), ("outside-its-file", "which function outside its file does {f} call?"),
        ("name-other-file", "name the other-file function that {f} calls"),
    ),
    "describe": (
        ("whats-for", "what's {n} for?"), ("do-exactly", "what does {n} do exactly?"), ("explain-what", "explain what {n} does"),
        ("dash-what", "{n} - what is it?"),
    ),
}

_WHAT = r"(?:the method `(?P<method>[^`]+)` of the class `(?P<owner>[^`]+)`|the (?P<kind>\w+) `(?P<name>[^`]+)`)"
_DEF = re.compile(rf"^Where is {_WHAT} defined\?$")
_CONST = re.compile(r"^What is the value of the constant `(?P<name>[^`]+)`\?$")
_PARAM = re.compile(rf"^What is the default value of the parameter `(?P<param>[^`]+)` of {_WHAT}\?$")
_CHAIN = re.compile(r"^The (?:method `(?P<method>[^`]+)` of the class `(?P<owner>[^`]+)`|(?P<kind>\w+) `(?P<name>[^`]+)`) "
                    r"calls exactly one function defined in another file\. Which function is it\?$")
_DESC = re.compile(r'^Which function does the following: "(?P<desc>.+)"\? Give its name\.$', re.S)
# Words of a description that make the expected answer to "what does X do".
DESCRIPTION_WORDS = 6


def _named(m: re.Match[str]) -> tuple[str, str]:
    """The name as people write it (`Class.method` for a method) and its kind."""
    if m.group("method"):
        return f"{m.group('owner')}.{m.group('method')}", "method"
    return m.group("name"), m.group("kind")


def reword(q: dict, rng: random.Random, templates: dict[str, tuple[Template, ...]] = TEMPLATES) -> dict | None:
    """The question in plain words (a copy with `question`, `phrasing` and, for describe, `answer`
    changed), or None for a question with no plain-word form here (two-hop chains)."""
    kind = q.get("kind")
    base = "definition" if kind == "unanswerable" and str(q["question"]).startswith("Where") else \
        "constant" if kind == "unanswerable" else kind
    text = str(q["question"])
    out = dict(q)
    if base == "definition" and (m := _DEF.match(text)):
        n, k = _named(m)
        tid, t = rng.choice(templates["definition"])
        out["question"] = t.format(n=n, k=k)
    elif base == "constant" and (m := _CONST.match(text)):
        tid, t = rng.choice(templates["constant"])
        out["question"] = t.format(n=m.group("name"))
    elif base == "param_default" and (m := _PARAM.match(text)):
        f, _ = _named(m)
        tid, t = rng.choice(templates["param_default"])
        out["question"] = t.format(p=m.group("param"), f=f)
    elif base == "call_chain" and (m := _CHAIN.match(text)):
        f, _ = _named(m)
        tid, t = rng.choice(templates["call_chain"])
        out["question"] = t.format(f=f)
    elif base == "describe" and (m := _DESC.match(text)):
        tid, t = rng.choice(templates["describe"])
        out["question"] = t.format(n=q["answer"])
        out["answer"] = " ".join(m.group("desc").split()[:DESCRIPTION_WORDS]).rstrip(".,;:")
    else:
        return None
    out["phrasing"] = tid
    return out
