"""Extractive reader: exact span mapping, labels from the QA generator, and a tiny end-to-end
run from a toy corpus through training and ONNX export that matches PyTorch."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch

from engram_training.corpus import RepoRecord
from engram_training.names import defines_any, mentions_any, name_ranges, names_in
from engram_training.publish import sha256_file
from engram_training.qa.__main__ import build_qa
from engram_training.reader import (ReaderConfig, ReaderEncoder, build_data, decode_window, load_model, located, normalize,
                                    question_form, stated,
                                    onnx_forward, rename, run_windows, span_text, span_tokens, torch_forward, train)
from engram_training.reader_publish import publish_reader
from engram_training.tokenizer import save, train_tokenizer


def _toy_corpus(root: Path) -> None:
    recs = []
    for r, split in enumerate(["train", "train", "train", "validation", "test"]):
        rid = f"pypi__rtoy{r}@1"
        base = root / "repos" / rid / "pkg"
        base.mkdir(parents=True)
        for f in range(4):
            body = [f'LIMIT_{r}_{f} = {r * 10 + f}\nGREETING_{r}_{f} = "héllo wörld {f}"\n']
            for k in range(10):
                nxt = f"helper_{r}_{(f + 1) % 4}_{k}"
                body.append(f'\n\ndef helper_{r}_{f}_{k}(value, scale={k}):\n'
                            f'    """Scale the value by factor {k} for stage {f} of toy {r}, then pass it on."""\n'
                            f'    return {nxt}(value * scale)\n')
            (base / f"m{f}.py").write_text("".join(body))
        recs.append(RepoRecord(id=rid, registry="pypi", name=f"rtoy{r}", version="1", license="MIT",
                               archive_url="", sha256="", bytes=0, split=split, main_language="python").__dict__)
    (root / "manifest.json").write_text(json.dumps({"repos": recs}))


def _tokenizer(tmp_path: Path, corpus: Path) -> Path:
    texts = [p.read_text() for p in (corpus / "repos").rglob("*.py")]
    save(train_tokenizer(texts, vocab_size=600, min_frequency=1), tmp_path / "tok")
    return tmp_path / "tok"


def test_every_token_maps_to_exact_bytes_of_its_line(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    enc = ReaderEncoder(_tokenizer(tmp_path, corpus) / "tokenizer.json")
    lines = ['GREETING = "héllo wörld 😀"', "    return helper_1(value * scale)", "", "x=1"]
    ws = enc.windows(enc.prefix("What is the value of the constant `GREETING`?", "", "pkg/m0.py"), lines, 40)
    assert len(ws) == 1 and ws[0].start_line == 40 and ws[0].lines == lines
    w = ws[0]
    for k, line in enumerate(lines):
        toks = [t for t in range(len(w.ids)) if w.line_of[t] == k and w.spanable[t]]
        if toks:
            assert span_text(w, toks[0], toks[-1])[0] == line.strip()
    # a character range maps to tokens whose text is exactly that range (whole characters)
    st = span_tokens(w, 0, lines[0].index("h"), lines[0].index('"', 12))
    assert st is not None
    text, l0, l1 = span_text(w, *st)
    assert normalize(text) == "héllo wörld 😀" and (l0, l1) == (0, 0)
    # long blocks become consecutive windows of whole lines covering every line once
    many = [f"value_{i} = compute(value_{i - 1}, {i})" for i in range(200)]
    ws = enc.windows(enc.prefix("q", "", "p.py"), many, 1)
    assert len(ws) > 1 and [l for x in ws for l in x.lines] == many
    assert all(len(x.ids) <= 512 for x in ws)
    assert [x.start_line for x in ws] == [1 + sum(len(y.lines) for y in ws[:i]) for i in range(len(ws))]


def test_renaming_is_consistent_and_keeps_lines() -> None:
    q = {"question": "Where is the function `parse_url` defined?", "answer": "a.py", "kind": "definition",
         "evidence": [{"path": "a.py", "startLine": 1, "endLine": 1}]}
    lines = ["def parse_url(s):", "    return parse_url_x(s) + parse_url(s)"]
    q2, l2, m2 = rename(random.Random(1), q, lines, "a.py:1: def parse_url(s):")
    new = q2["question"].split("`")[1]
    assert new != "parse_url" and "parse_url" not in l2[0]
    assert l2[0] == f"def {new}(s):" and "parse_url_x" in l2[1] and l2[1].endswith(f"{new}(s)")
    assert new in m2 and len(l2) == len(lines)


def test_decode_picks_the_best_span_within_limits(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    enc = ReaderEncoder(_tokenizer(tmp_path, corpus) / "tokenizer.json")
    w = enc.windows(enc.prefix("q", "", "p.py"), ["a = 1", "LIMIT = 42", "b = 2"], 10)[0]
    st = span_tokens(w, 1, 8, 10)
    assert st is not None
    n = len(w.ids)
    start, end, keep = np.zeros(n), np.zeros(n), np.full(n, -5.0)
    start[st[0]], end[st[1]] = 9.0, 9.0
    start[0] = end[0] = 50.0  # outside the block: never chosen
    keep[[t for t in range(n) if w.line_of[t] == 1]] = 5.0
    out = decode_window(w, start, end, keep, na_logit=-3.0)
    assert out["answer"]["text"] == "42" and out["answer"]["startLine"] == 11 == out["answer"]["endLine"]
    assert out["noAnswer"] < 0.1 and out["keep"][11] > 0.9 and out["keep"][10] < 0.1


def test_question_names_outrank_look_alike_lines(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    enc = ReaderEncoder(_tokenizer(tmp_path, corpus) / "tokenizer.json")
    q = "What is the value of the constant `LIMIT`?"
    assert names_in(q) == ["LIMIT"] and names_in("how does scaling work?") == []
    assert names_in("`const` and `$el` and v2 and parse_value") == ["$el", "v2", "parse_value"]
    assert names_in("Where is the function `not` defined? And `every`?") == ["not", "every"]
    assert names_in("What does `return not x` do, and `function`?") == ["x"]
    assert mentions_any("f(LIMIT_X, LIMIT)", ["LIMIT"]) and not mentions_any("LIMIT_X = 1", ["LIMIT"])
    w = enc.windows(enc.prefix(q, "", "p.py"), ["LIMIT_X = 3", "LIMIT = 42"], 10)[0]
    n = len(w.ids)
    look_alike, named = span_tokens(w, 0, 9, 10), span_tokens(w, 1, 8, 10)
    assert look_alike is not None and named is not None
    start, end, keep = np.zeros(n), np.zeros(n), np.zeros(n)
    start[look_alike[0]], end[look_alike[1]] = 6.0, 6.0  # the model prefers the look-alike
    start[named[0]], end[named[1]] = 4.0, 4.0
    assert decode_window(w, start, end, keep, -3.0)["answer"]["text"] == "3"
    out = decode_window(w, start, end, keep, -3.0, names_in(q))
    assert out["answer"]["text"] == "42" and out["answer"]["startLine"] == 11
    # a line that defines the name outranks one that only uses it
    w2 = enc.windows(enc.prefix(q, "", "p.py"), ["check(LIMIT, 5)", "LIMIT = 42"], 10)[0]
    use, define = span_tokens(w2, 0, 13, 14), span_tokens(w2, 1, 8, 10)
    assert use is not None and define is not None
    n2 = len(w2.ids)
    s2, e2 = np.zeros(n2), np.zeros(n2)
    s2[use[0]], e2[use[1]] = 6.0, 6.0
    s2[define[0]], e2[define[1]] = 5.0, 5.0  # 2 nats under the use, less than MENTION_PENALTY
    assert decode_window(w2, s2, e2, np.zeros(n2), -3.0, names_in(q))["answer"]["text"] == "42"
    assert decode_window(w2, s2, e2, np.zeros(n2), -3.0, names_in(q), mention_penalty=0.0)["answer"]["text"] == "5"
    assert defines_any("LIMIT = 42", ["LIMIT"]) and not defines_any("check(LIMIT, 5)", ["LIMIT"])
    assert defines_any("    def load(self):", ["load"]) and defines_any("  load(dir) {", ["load"])
    assert not defines_any("if (LIMIT == 4) {", ["LIMIT"])
    assert not defines_any('const NormalModule = require("./NormalModule");', ["NormalModule"])
    head, call = ["  pipe(", "    ...ops: Op[]", "  ): Observable {"], ["  pipe(", "    a,", "  );"]
    assert defines_any(head[0], ["pipe"], 0, head) and not defines_any(head[0], ["pipe"])
    assert not defines_any(call[0], ["pipe"], 0, call)
    # the score stays the span's own probability
    plain = decode_window(w, start, end, keep, -3.0, names_in(q), name_penalty=0.0)
    assert out["answer"]["score"] < plain["answer"]["score"]


def test_question_name_is_never_a_value_answer_and_definitions_locate(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    enc = ReaderEncoder(_tokenizer(tmp_path, corpus) / "tokenizer.json")
    q = "What is the value of the constant `LIMIT`?"
    assert question_form(q) == "value" and question_form("Where is `LIMIT` defined?") == "place"
    assert question_form("Which function does the following?") == "other"
    assert name_ranges("é = LIMIT + LIMIT_X + f(LIMIT)", ["LIMIT"]) == [(5, 10), (25, 30)]
    w = enc.windows(enc.prefix(q, "", "p.py"), ["x = 1", "LIMIT = 42"], 10)[0]
    n = len(w.ids)
    name, value = span_tokens(w, 1, 0, 5), span_tokens(w, 1, 8, 10)
    assert name is not None and value is not None
    start, end = np.zeros(n), np.zeros(n)
    start[name[0]], end[name[1]] = 8.0, 8.0  # the model prefers the name itself
    start[value[0]], end[value[1]] = 5.0, 5.0
    assert decode_window(w, start, end, np.zeros(n), -3.0, names_in(q))["answer"]["text"] == "LIMIT"
    out = decode_window(w, start, end, np.zeros(n), -3.0, names_in(q), not_answers=names_in(q))
    assert out["answer"]["text"] == "LIMIT = 42"  # the best span not inside the name: it may start there
    # a place question's span on the defining line is stated whatever the thresholds
    row = {"question": "Where is `LIMIT` defined?", "lines": w.lines, "startLine": w.start_line}
    pred = {"noAnswer": 0.99, "answer": {"text": "LIMIT", "startLine": 11, "endLine": 11, "score": 0.01}}
    assert located(row, pred) and not located(row, {**pred, "answer": {**pred["answer"], "startLine": 10}})
    assert not located({**row, "question": q}, pred)
    # stated: by the thresholds, and for place and value questions only on a line saying the name
    th = {"no_answer": 0.5, "min_score": 0.0}
    sure = {**pred, "noAnswer": 0.1}
    assert stated(row, pred, th) and not stated({**row, "question": "Where is `OTHER` defined?"}, sure, th)
    # an answer citing a line outside the window (a generative reasoner's) is never stated for a place or value
    outside = {**sure, "answer": {**sure["answer"], "startLine": 99}}
    assert not located(row, outside) and not stated(row, outside, th) and not stated({**row, "question": q}, outside, th)
    assert stated({**row, "question": q}, sure, th)
    assert stated({**row, "question": "Which function reads `OTHER`?"}, sure, th)


def test_tiny_end_to_end_reader_to_onnx(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    _toy_corpus(corpus)
    build_qa(corpus, tmp_path / "qa", per_kind=4, train_range=(600, 1500), eval_sizes={"1k": 1000},
             log=lambda m: None)
    tok = _tokenizer(tmp_path, corpus)
    data = tmp_path / "reader"
    stats = build_data(corpus, tmp_path / "qa", tok / "tokenizer.json", data, log=lambda m: None)
    assert stats["train"]["positives"] > 0 and stats["train"]["examples"] > stats["train"]["positives"]
    rows = [json.loads(l) for l in (data / "test.jsonl").read_text().splitlines()]
    pos = [r for r in rows if r["target"]]
    assert pos and len(pos) < len(rows)
    for r in pos:  # every label is the answer's exact text on the evidence lines
        assert normalize(r["targetText"]) == normalize(r["target"])
        line = r["lines"][r["answerLines"][0] - r["startLine"]]
        assert r["targetText"] in line
    run = data / "run"
    cfg = ReaderConfig(vocab_size=600, d_model=32, layers=1, heads=2, ff=64, max_len=512, dropout=0.0)
    info = train(data, run, cfg, budget_s=300, epochs=0.5, batch_size=16, device="cpu", log=lambda m: None,
                 tokenizer=tok / "tokenizer.json")
    assert info["steps"] >= 1 and (run / "model.pt").exists()
    # Resuming continues from the checkpoint instead of starting over.
    info2 = train(data, run, cfg, budget_s=600, epochs=1.0, batch_size=16, device="cpu", log=lambda m: None)
    assert info2["steps"] > info["steps"]
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps({"models": [{"name": "engram-gate", "role": "gate"}]}))
    res = publish_reader(data, run, models / "reader-0.0.1", tok, models / "manifest.json", "0.0.1", eval_limit=40)
    assert res["parity"]["fp32_max_abs_diff"] < 1e-4
    t = res["test_int8"]
    assert 0 <= t["span_em_positives"] <= 1 and 0 <= t["overall_em"] <= 1 and t["windows"] == 40
    # The shipped ONNX reads real windows the same as PyTorch: same spans, same decisions.
    enc = ReaderEncoder(tok / "tokenizer.json")
    wins = [enc.windows(enc.prefix(r["question"], r["memory"], r["path"]), r["lines"], r["startLine"])[0] for r in rows[:12]]
    a = run_windows(wins, torch_forward(load_model(run), torch.device("cpu")))
    b = run_windows(wins, onnx_forward(models / "reader-0.0.1" / "onnx" / "model.onnx"))
    for x, y in zip(a, b):
        assert (x["answer"] or {}).get("text") == (y["answer"] or {}).get("text")
        assert abs(x["noAnswer"] - y["noAnswer"]) < 1e-4
    manifest = json.loads((models / "manifest.json").read_text())
    assert [m["name"] for m in manifest["models"]] == ["engram-gate", "engram-reader"]
    entry = manifest["models"][1]
    assert entry["role"] == "reasoner" and entry["path"] == "reader-0.0.1"
    files = {f["path"]: f for f in entry["files"]}
    assert {"onnx/model.onnx", "onnx/model_quantized.onnx", "config.json", "tokenizer.json", "README.md"} <= set(files)
    assert files["onnx/model.onnx"]["sha256"] == sha256_file(models / "reader-0.0.1" / "onnx" / "model.onnx")
    cfg_json = json.loads((models / "reader-0.0.1" / "config.json").read_text())
    assert cfg_json["model_type"] == "engram-reader" and 0 < cfg_json["no_answer_threshold"] <= 1


def test_answers_are_found_as_whole_words() -> None:
    from engram_training.reader import find_in_line
    assert find_in_line("x = helper_1_2_1 + 1", "1") == (19, 20)  # not inside the identifier
    assert find_in_line("retries = 10", "1") is None
    assert find_in_line('const A = "a b";', "a b") == (11, 14)
    assert find_in_line("(x) => x", "(x)") == (0, 3)
