"""QA generator: answers unique in their context and found at their evidence lines;
feedback files with malformed lines skipped and counted."""

from __future__ import annotations

import json
import re
from pathlib import Path

from engram_training.corpus import RepoRecord
from engram_training.qa.__main__ import build_qa
from engram_training.qa.feedback import read_feedback
from engram_training.qa.generate import NOT_FOUND, Context, Generator, verify
from engram_training.qa.parse import parse_file

PY_A = '''"""Toy package."""
TIMEOUT_SECONDS = 30
ENCODING = "utf-8"


def load_config(path, retries=3, mode="strict"):
    """Read the configuration file from disk and validate every section of it."""
    return validate_sections(path)


def helper(x):
    return x
'''
PY_B = '''from .a import helper


def validate_sections(path):
    """Check that each section has a name and that names are not repeated."""
    return normalise_name(path)
'''
PY_C = '''def normalise_name(name, lower=True):
    return name.lower() if lower else name


def helper(y):
    return y
'''
JS_A = '''const MAX_RETRIES = 5;

/** Open a socket to the given host and keep it alive with pings. */
function openSocket(host, port = 8080) {
  return connectTcp(host, port);
}

module.exports = { openSocket };
'''
TS_B = '''export const connectTcp = (host: string, port: number = 80): string => {
  return formatAddress(host, port);
};

export function formatAddress(host: string, port?: number): string {
  return host + ':' + port;
}
'''

FILES = {"pkg/a.py": PY_A, "pkg/b.py": PY_B, "pkg/c.py": PY_C, "web/a.js": JS_A, "web/b.ts": TS_B}
LANG = {".py": "python", ".js": "javascript", ".ts": "typescript"}


def _ctx(files: dict[str, str] = FILES) -> Context:
    facts = [parse_file(p, LANG[Path(p).suffix], t) for p, t in files.items()]
    return Context("ctx1", "toy", "train", "train", facts, 1000)


def _questions(files: dict[str, str] = FILES) -> list[dict]:
    gen = Generator(seed=1, per_kind=20, decoys=["frobnicateWidget", "load_config", "parse_everything"])
    return gen.questions(_ctx(files))


def test_every_kind_is_generated_and_verified_at_its_evidence() -> None:
    qs = _questions()
    kinds = {q["kind"] for q in qs}
    assert kinds == {"definition", "constant", "param_default", "call_chain", "describe", "unanswerable"}
    for q in qs:
        assert verify(q, FILES), q
        for ev in q["evidence"]:
            lines = FILES[ev["path"]].splitlines()
            assert 1 <= ev["startLine"] <= ev["endLine"] <= len(lines)


def test_answers_are_the_expected_facts() -> None:
    by_q = {q["question"]: q for q in _questions()}
    assert by_q["Where is the function `load_config` defined?"]["answer"] == "pkg/a.py"
    assert by_q["What is the value of the constant `TIMEOUT_SECONDS`?"]["answer"] == "30"
    assert by_q["What is the value of the constant `ENCODING`?"]["answer"] == "utf-8"
    q = by_q["What is the default value of the parameter `retries` of the function `load_config`?"]
    assert q["answer"] == "3" and q["evidence"] == [{"path": "pkg/a.py", "startLine": 6, "endLine": 6}]
    assert by_q["What is the default value of the parameter `port` of the function `openSocket`?"]["answer"] == "8080"
    chain3 = [q for q in by_q.values() if q["kind"] == "call_chain" and q.get("hops") == 3]
    assert {(q["question"].split("`")[1], q["answer"]) for q in chain3} >= {("load_config", "normalise_name")}
    chain2 = {q["question"].split("`")[1]: q["answer"] for q in by_q.values() if q.get("hops") == 2}
    assert chain2["openSocket"] == "connectTcp"
    desc = [q for q in by_q.values() if q["kind"] == "describe"]
    assert {q["answer"] for q in desc} == {"load_config", "validate_sections", "openSocket"}
    assert all(q["answer"] not in q["question"] for q in desc)
    unans = [q for q in by_q.values() if q["kind"] == "unanswerable"]
    # `load_config` is defined in the context, so it can never be an unanswerable decoy.
    assert {re.findall(r"`([^`]+)`", q["question"])[0] for q in unans} == {"frobnicateWidget", "parse_everything"}
    assert all(q["answer"] == NOT_FOUND and q["evidence"] == [] for q in unans)


def test_call_chains_follow_plain_and_module_calls_only() -> None:
    files = {
        "app/tool.py": (
            "import codec_lib as cl\n\n\nclass Runner:\n    def run_tool(self, proc):\n        out = proc.communicate()\n"
            "        return out.decode_all()\n\n\ndef dump_report(x):\n    return cl.serialize_all(x)\n\n\n"
            "def make_runner():\n    return Runner()\n"
        ),
        "app/codec_lib.py": "def serialize_all(x):\n    return str(x)\n\n\ndef decode_all(b):\n    return b\n",
        "web/list.js": "function listNames(items) {\n  return items.mapValues(String);\n}\n",
        "web/values.js": "export function mapValues(f) {\n  return f;\n}\n",
    }
    chains = {q["question"].split("`")[1]: q["answer"] for q in _questions(files) if q["kind"] == "call_chain"}
    # `cl.serialize_all()` calls a function of an imported module; `out.decode_all()` and
    # `items.mapValues()` are methods of whatever those objects are; `Runner()` builds a class.
    assert chains == {"dump_report": "serialize_all"}


def test_a_chain_whose_start_may_call_a_second_function_is_not_asked() -> None:
    files = {
        "ops/audit_time.js": "function auditTime(d) {\n  return auditAll(() => timer(d));\n}\n",
        "ops/audit_all.js": "export function auditAll(f) {\n  return f;\n}\n",
        "obs/timer.js": "export function timer(d) {\n  return d;\n}\n",
        "obs/timer_legacy.js": "export function timer(d, s) {\n  return s;\n}\n",
        "ops/sample_time.js": "function sampleTime(d) {\n  return auditAll(d);\n}\n",
    }
    chains = {q["question"].split("`")[1]: q["answer"] for q in _questions(files) if q["kind"] == "call_chain"}
    # `auditTime` calls `auditAll` and one of two `timer`s: "exactly one function of another file"
    # cannot be verified, so it is not asked; `sampleTime` calls only `auditAll`.
    assert chains == {"sampleTime": "auditAll"}


def test_decorators_and_defaults_are_no_calls_of_the_function() -> None:
    files = {
        "pkg/core.py": (
            "from .util import replaced_by_pep8, make_default, flatten\n\n\n"
            "@replaced_by_pep8(print)\ndef delimitedList(): ...\n\n\n"
            "def parse_all(x=make_default()):\n    return flatten(x)\n"
        ),
        "pkg/util.py": (
            "def replaced_by_pep8(fn):\n    return fn\n\n\ndef make_default():\n    return []\n\n\n"
            "def flatten(x):\n    return x\n"
        ),
    }
    chains = {q["question"].split("`")[1]: q["answer"] for q in _questions(files) if q["kind"] == "call_chain"}
    assert chains == {"parse_all": "flatten"}


def test_a_function_defined_in_two_branches_is_not_unique() -> None:
    files = {
        "compat.py": (
            "import sys\n\nif sys.version_info[0] == 3:\n    def create_unbound(func, cls):\n        return func\n"
            "else:\n    def create_unbound(func, cls):\n        return cls\n\n\n"
            "try:\n    from json import loads\nexcept ImportError:\n    def load_text(s):\n        return s\n"
        ),
        "test_compat.py": (
            "import compat\n\n\ndef test_create_unbound():\n    return compat.create_unbound(len, int)\n\n\n"
            "def test_load_text():\n    return compat.load_text('x')\n"
        ),
    }
    qs = _questions(files)
    chains = {q["question"].split("`")[1]: q["answer"] for q in qs if q["kind"] == "call_chain"}
    # `create_unbound` has a definition in each branch; `load_text` (in an except handler) has one.
    assert chains == {"test_load_text": "load_text"}
    assert not [q for q in qs if q["kind"] == "definition" and "`create_unbound`" in q["question"]]


def test_ambiguous_names_give_no_questions() -> None:
    qs = _questions()
    asked = " ".join(q["question"] for q in qs)
    assert "`helper`" not in asked  # defined in two files
    # A second assignment makes the constant ambiguous, so it is no longer asked.
    files = dict(FILES, **{"pkg/d.py": "TIMEOUT_SECONDS = 60\n"})
    assert not [q for q in _questions(files) if "TIMEOUT_SECONDS" in q["question"]]


def test_verify_rejects_a_wrong_answer() -> None:
    q = next(q for q in _questions() if q["kind"] == "constant")
    assert not verify(dict(q, answer="definitely-not-there"), FILES)


def test_build_writes_splits_without_shared_repos(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    recs = []
    for i, split in enumerate(["train", "train", "validation", "test"]):
        rid = f"pypi__toy{i}@1"
        root = corpus / "repos" / rid
        for path, text in FILES.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            # Each file repeated into a bigger module so contexts reach the token range.
            body = text + "".join(f"\n\ndef filler_{i}_{k}(v={k}):\n    return v\n" for k in range(150)) \
                if path.endswith(".py") else text
            (root / path).write_text(body)
        recs.append(RepoRecord(id=rid, registry="pypi", name=f"toy{i}", version="1", license="MIT",
                               archive_url="", sha256="", bytes=0, split=split, main_language="python").__dict__)
    (corpus / "manifest.json").write_text(json.dumps({"repos": recs}))
    fb = tmp_path / "fb.jsonl"
    fb.write_text("not json\n[1]\n" + json.dumps({"question": "q?", "answer": "a", "verdict": "up"}) + "\n")
    stats = build_qa(corpus, tmp_path / "qa", train_range=(1000, 4000), eval_sizes={"2k": 2000},
                     feedback=[fb], log=lambda m: None)
    repos_by_split = {}
    for split in ("train", "validation", "test"):
        rows = [json.loads(l) for l in (tmp_path / "qa" / split / "qa.jsonl").read_text().splitlines()]
        assert rows, split
        repos_by_split[split] = {r["repo"] for r in rows}
        assert all(r["split"] == split for r in rows)
    assert repos_by_split["train"] == {"pypi__toy0@1", "pypi__toy1@1"}
    assert repos_by_split["validation"] == {"pypi__toy2@1"}
    assert (tmp_path / "qa" / "test" / "by-repo" / "pypi__toy3@1.jsonl").exists()
    assert stats["failed_verification"] == 0
    assert stats["feedback"]["skipped"] == {"not-json": 1, "not-an-object": 1}


def test_feedback_lines_are_read_and_malformed_ones_counted(tmp_path: Path) -> None:
    good = {"question": "Where is X?", "answer": "a.py", "verdict": "down", "correctedAnswer": "b.py",
            "blocks": [{"path": "b.py", "startLine": 1, "endLine": 9, "relevant": True},
                       {"path": "a.py", "startLine": 3, "endLine": 5, "relevant": False}]}
    lines = [
        json.dumps(good),
        json.dumps({"prompt": "p", "completion": "c", "label": True}),
        json.dumps({"prompt": "p", "chosen": "x", "rejected": "y"}),
        "{broken json",
        json.dumps({"answer": "no question"}),
        json.dumps({"question": "q", "verdict": "sideways"}),
        json.dumps({"question": "q", "blocks": [{"path": "a.py", "startLine": 5, "endLine": 2, "relevant": True}]}),
        json.dumps({"prompt": "p", "chosen": "x"}),
        "",
    ]
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(lines) + "\n")
    data = read_feedback([path])
    assert data.lines == 8
    assert data.skipped == {"not-json": 1, "no-question": 1, "bad-verdict": 1, "bad-blocks": 1, "bad-dpo-row": 1}
    assert data.qa == [{"id": data.qa[0]["id"], "question": "Where is X?", "answer": "b.py",
                        "evidence": [{"path": "b.py", "startLine": 1, "endLine": 9}], "kind": "feedback",
                        "repo": "", "source": "corrected"}]
    assert [g["label"] for g in data.gate] == [1, 0]
    assert {"prompt": "Where is X?", "chosen": "b.py", "rejected": "a.py"} in data.dpo
    assert {"prompt": "Where is X?", "completion": "a.py", "label": False} in data.kto
    assert len(data.kto) == 2 and len(data.dpo) == 2
