"""Fine-tuning the reader from a feedback file: what each kind of record teaches (targets on the
workspace's lines, "not here" windows, skips with reasons), and a tiny run that writes a new
version beside the base, with ONNX matching PyTorch and a card comparing the two."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from engram_training.__main__ import main
from engram_training.finetune import find_base_run, read_feedback_windows
from engram_training.publish import sha256_file
from engram_training.qa.__main__ import build_qa
from engram_training.reader import (ReaderConfig, ReaderEncoder, build_data, eval_windows, load_model, onnx_forward,
                                    run_windows, torch_forward, train)
from engram_training.reader_publish import publish_reader
from test_reader import _tokenizer, _toy_corpus

NET = '"""Network settings."""\nRETRY_BASE_MS = 250\nMAX_RETRIES = 5\n\n\ndef retry_delay(attempt):\n    return RETRY_BASE_MS * 2 ** attempt\n'
CONFIG = "# limits\nTIMEOUT_S = 30\nRETRIES_ALLOWED = 7\n"
README = "# net\n\nRetries back off exponentially.\n"


def _cite(path: str, a: int, b: int | None = None) -> dict:
    return {"path": path, "startLine": a, "endLine": b or a}


def _rec(ws: Path, question: str, answer: str, cites: list[dict], **more) -> str:
    trace = [{"type": "memory", "step": 1, "memory": "src/config.py:2: TIMEOUT_S = 30", "ms": 1},
             {"type": "read", "step": 2, "blockId": "b1", "path": "src/net.py", "startLine": 1, "endLine": 7, "ms": 3},
             {"type": "memory", "step": 3, "memory": "later", "ms": 1}]
    return json.dumps({"id": question[:12], "question": question, "answer": answer, "citations": cites, "trace": trace,
                       "repo": str(ws), "models": {}, "timestamp": "t", **more})


def _feedback_file(tmp_path: Path) -> tuple[Path, Path]:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "net.py").write_text(NET)
    (ws / "src" / "config.py").write_text(CONFIG)
    (ws / "README.md").write_text(README)
    lines = [
        _rec(ws, "What is the value of the constant `RETRY_BASE_MS`?", "250", [_cite("src/net.py", 2)], verdict="up"),
        _rec(ws, "Where is the function `retry_delay` defined?", "src/net.py:6", [_cite("src/net.py", 6)], verdict="up"),
        # a correction on the cited lines: the window is the corrected answer's, not "not here"
        _rec(ws, "What is the base retry delay in ms?", "RETRY_BASE_MS", [_cite("src/net.py", 2)], verdict="down",
             correctedAnswer="250"),
        # a correction found in a block marked relevant elsewhere: the cited window says "not here"
        _rec(ws, "How many retries are allowed?", "5", [_cite("src/net.py", 3)], verdict="down", correctedAnswer="7",
             blocks=[{**_cite("src/config.py", 1, 3), "relevant": True}]),
        _rec(ws, "What is the timeout in seconds?", "MAX_RETRIES", [_cite("src/net.py", 3)], verdict="down"),
        _rec(ws, "Which function computes the delay?", "", [], blocks=[{**_cite("README.md", 1, 3), "relevant": False}]),
        _rec(ws, "What is `GONE`?", "1", [_cite("src/gone.py", 1)], verdict="up"),
        _rec(ws, "What is the value of `MAX_RETRIES`?", "6", [_cite("src/net.py", 3)], verdict="up"),  # file changed since
        _rec(ws, "What is `X`?", "Not sure (low confidence): the closest evidence is src/net.py:2: RETRY_BASE_MS = 250",
             [_cite("src/net.py", 2)], verdict="up"),
        _rec(ws, "What is `Y`?", "y", [_cite("../outside.py", 1)], verdict="up"),
        # the user changed their mind: the later record of the same question replaces the first
        _rec(ws, "What is the retry cap?", "5", [_cite("src/net.py", 3)], verdict="up", askId="a1"),
        _rec(ws, "What is the retry cap?", "5", [_cite("src/net.py", 3)], verdict="down", askId="a1"),
        '{"question": "torn',
        json.dumps({"question": "q", "verdict": "sideways"}),
        json.dumps({"prompt": "Which constant sets the delay?", "chosen": "RETRY_BASE_MS", "rejected": "MAX_RETRIES"}),
        json.dumps({"prompt": "Which constant sets the delay?", "completion": "RETRY_BASE_MS", "label": True}),
        "",
    ]
    path = tmp_path / "feedback.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, ws


def test_feedback_records_become_targets_negatives_and_counted_skips(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    enc = ReaderEncoder(_tokenizer(tmp_path, corpus) / "tokenizer.json")
    path, ws = _feedback_file(tmp_path)
    fb = read_feedback_windows(path, enc)
    c = fb.counts()
    assert c["lines"] == 16 and c["replaced_by_later_record"] == 1
    assert c["malformed"] == {"not-json": 1, "bad-verdict": 1}
    assert c["skipped"] == {"file-not-found": 1, "answer-not-on-cited-lines": 1, "low-confidence-evidence": 1,
                            "path-outside-workspace": 1}
    assert c["records_used"] == 7 and c["dropped_parts"] == {}
    assert c["by_kind"] == {"thumbs-up": 2, "corrected": 2, "thumbs-down": 3, "irrelevant-block": 1}
    assert (c["positives"], c["negatives"]) == (4, 4)
    # two corrections differ from their answers, plus one TRL pair; a KTO row has no lines to read
    assert c["dpo_pairs"] == 3 and c["kto_rows_without_lines"] == 1
    pos = [(e.row["kind"], e.row["path"], e.row["targetText"], e.row["answerLines"]) for e in fb.examples if e.span]
    assert pos == [("thumbs-up", "src/net.py", "250", [2, 2]), ("thumbs-up", "src/net.py", "retry_delay", [6, 6]),
                   ("corrected", "src/net.py", "250", [2, 2]), ("corrected", "src/config.py", "7", [3, 3])]
    neg = [(e.row["kind"], e.row["question"], e.row["path"], e.row["startLine"], e.keep_signal)
           for e in fb.examples if not e.span]
    assert neg == [("thumbs-down", "How many retries are allowed?", "src/net.py", 1, False),
                   ("thumbs-down", "What is the timeout in seconds?", "src/net.py", 1, False),
                   ("irrelevant-block", "Which function computes the delay?", "README.md", 1, True),
                   ("thumbs-down", "What is the retry cap?", "src/net.py", 1, False)]
    first = fb.examples[0]
    # the window is the block the engine read, with the memory it had before reading it
    assert first.row["lines"] == NET.split("\n")[:7] and first.row["memory"] == "src/config.py:2: TIMEOUT_S = 30"
    assert first.row["keepLines"] == [2]
    # evaluation rows rebuild exactly the training inputs
    for e, w in zip(fb.examples, eval_windows(enc, [e.row for e in fb.examples])):
        assert w.ids == e.window.ids
    # the workspace can be named when the files moved
    moved = tmp_path / "moved"
    ws.rename(moved)
    assert read_feedback_windows(path, enc).counts()["skipped"]["workspace-not-found"] == 10
    assert read_feedback_windows(path, enc, workspace=moved).counts()["positives"] == 4


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_tiny_finetune_writes_a_new_version_beside_the_base(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, tmp_path / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000}, log=lambda m: None)
    tok = _tokenizer(tmp_path, corpus)
    data = tmp_path / "reader"
    build_data(corpus, tmp_path / "qa", tok / "tokenizer.json", data, log=lambda m: None)
    base_run = data / "run"
    cfg = ReaderConfig(vocab_size=600, d_model=32, layers=1, heads=2, ff=64, max_len=512, dropout=0.0)
    train(data, base_run, cfg, budget_s=300, epochs=0.3, batch_size=16, device="cpu", log=lambda m: None,
          tokenizer=tok / "tokenizer.json")
    models = tmp_path / "models"
    models.mkdir()
    publish_reader(data, base_run, models / "reader-0.0.1", tok, models / "manifest.json", "0.0.1", eval_limit=20)
    base_files = _files(models / "reader-0.0.1")
    base_entry = json.loads((models / "manifest.json").read_text())["models"][0]

    ws = corpus / "repos" / "pypi__rtoy1@1"  # a workspace of the train split
    m0 = (ws / "pkg" / "m0.py").read_text().split("\n")
    where = next(i for i, l in enumerate(m0, 1) if l.startswith("def helper_1_0_3("))
    rec = lambda q, a, cites, **k: json.dumps({"question": q, "answer": a, "citations": cites, "trace": [],  # noqa: E731
                                               "repo": str(ws), **k})
    fb = tmp_path / "feedback.jsonl"
    fb.write_text("\n".join([
        rec("What is the value of the constant `LIMIT_1_2`?", "12", [_cite("pkg/m2.py", 1)], verdict="up"),
        rec("Where is the function `helper_1_0_3` defined?", f"pkg/m0.py:{where}", [_cite("pkg/m0.py", where)], verdict="up"),
        rec("What is the value of the constant `LIMIT_1_3`?", "LIMIT_1_0", [_cite("pkg/m0.py", 1)], verdict="down",
            correctedAnswer="13", blocks=[{**_cite("pkg/m3.py", 1, 2), "relevant": True}]),
        rec("What is the default value of the parameter `scale` of `helper_1_2_4`?", "", [],
            blocks=[{**_cite("pkg/m1.py", 3, 6), "relevant": False}]),
        "not json",
    ]) + "\n")
    # A run of an older reader (other config keys), newest and so tried first, is passed over.
    stale = tmp_path / "reader-old" / "run"
    stale.mkdir(parents=True)
    (stale / "train.json").write_text(json.dumps({"config": {"dim": 64, "layers": 2}}))
    (stale / "model.pt").write_bytes(b"old")
    argv = ["finetune-from-feedback", str(fb), "--models", str(models), "--data", str(tmp_path), "--steps", "12",
            "--batch-size", "8", "--lr", "2e-3", "--eval-limit", "20", "--device", "cpu"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    new = models / "reader-0.0.2"
    assert res["out"] == str(new) and res["version"] == "0.0.2"
    assert res["base_run"] == str(base_run)  # found by matching the base's ONNX
    c = res["feedback"]
    assert (c["positives"], c["negatives"], c["malformed"], c["dpo_pairs"]) == (3, 2, {"not-json": 1}, 1)
    assert res["mix"]["replay_windows"] > 0 and res["mix"]["replay_from"] == str(data / "train.npz")

    # the base is untouched: its files and its manifest entry
    assert _files(models / "reader-0.0.1") == base_files
    manifest = json.loads((models / "manifest.json").read_text())["models"]
    assert manifest[0] == base_entry and len(manifest) == 2
    entry = manifest[1]
    assert (entry["name"], entry["path"], entry["version"], entry["role"]) == ("engram-reader-0.0.2", "reader-0.0.2", "0.0.2", "reasoner")
    files = {f["path"]: f["sha256"] for f in entry["files"]}
    assert {"onnx/model.onnx", "onnx/model_quantized.onnx", "config.json", "README.md", "finetune.json"} <= set(files)
    assert files["README.md"] == sha256_file(new / "README.md")
    assert entry["eval"]["finetune"]["base"] == "0.0.1" and entry["eval"]["finetune"]["test_new"]["windows"] == 20
    assert sorted(p.name for p in models.iterdir()) == ["manifest.json", "reader-0.0.1", "reader-0.0.2"]

    # the new ONNX reads like the new PyTorch weights, and differs from the base
    run = Path(res["run"])
    enc = ReaderEncoder(new / "tokenizer.json")
    rows = [json.loads(l) for l in (tmp_path / "finetune" / "reader-0.0.2" / "feedback.jsonl").read_text().splitlines()]
    wins = eval_windows(enc, rows)
    a = run_windows(wins, torch_forward(load_model(run), torch.device("cpu")))
    b = run_windows(wins, onnx_forward(new / "onnx" / "model.onnx"))
    base_out = run_windows(wins, onnx_forward(models / "reader-0.0.1" / "onnx" / "model.onnx"))
    for x, y in zip(a, b):
        assert (x["answer"] or {}).get("text") == (y["answer"] or {}).get("text")
        assert abs(x["noAnswer"] - y["noAnswer"]) < 1e-4
    assert max(abs(x["noAnswer"] - z["noAnswer"]) for x, z in zip(b, base_out)) > 1e-3

    card = (new / "README.md").read_text()
    assert "Fine-tuned by `training/` from engram-reader 0.0.1" in card
    assert "## Fine-tuning from user feedback (0.0.1 → this version)" in card
    for line in ("| base 0.0.1 (test) | 20 |", "| new (test) | 20 |", "| base 0.0.1 | 5 |", "| new | 5 |"):
        assert line in card
    assert "Answer pairs (DPO): 1 counted, not used" in card and "Per question, as the engine answers" in card
    assert 0 <= entry["eval"]["finetune"]["test_base"]["question_accuracy"] <= 1

    # A fresh checkout has the shipped model and none of its runs: the base's weights come back from its ONNX.
    fresh = tmp_path / "fresh-data"
    run0, gap = find_base_run(models / "reader-0.0.1", fresh, None, log=lambda m: None)
    assert run0 == fresh / "finetune" / "from-onnx-reader-0.0.1" and gap < 1e-4
    for name, t in load_model(run0).state_dict().items():
        assert torch.equal(t, load_model(base_run).state_dict()[name]), name

    # never over an existing version
    assert main(argv + ["--version", "0.0.2"]) == 1
    assert "exists" in capsys.readouterr().err
