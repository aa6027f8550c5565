"""Generative reasoner end to end on toy data: examples, supervised steps (with resume), GRPO
steps through TRL, evaluation in the reader's format, ONNX export with PyTorch parity."""

import json
import random
from pathlib import Path

import onnxruntime as ort
import pytest

from engram_training import generative as gen
from engram_training.reader_rl import RewardWeights

REPO = Path(__file__).resolve().parents[2]
FILES = {
    "src/config.py": ["import os", "", "LIMIT = 40", "NAME = 'engram'", "", "def get(key, default=None):",
                      "    return os.environ.get(key, default)", ""],
    "src/util.py": ["def add(a, b):", "    return a + b", "", "def twice(x):", "    return add(x, x)", "",
                    "RETRIES = 3", ""],
}
QUESTIONS = [
    {"id": "q1", "kind": "constant", "question": "What is the value of the constant `LIMIT`?", "answer": "40",
     "evidence": [{"path": "src/config.py", "startLine": 3, "endLine": 3}]},
    {"id": "q2", "kind": "constant", "question": "What is the value of the constant `RETRIES`?", "answer": "3",
     "evidence": [{"path": "src/util.py", "startLine": 7, "endLine": 7}]},
    {"id": "q3", "kind": "definition", "question": "Where is the function `twice` defined?", "answer": "src/util.py",
     "evidence": [{"path": "src/util.py", "startLine": 4, "endLine": 5}]},
    {"id": "q4", "kind": "unanswerable", "question": "What is the value of the constant `TIMEOUT`?", "answer": "not found",
     "evidence": []},
]
CTX = {"id": "c1", "repo": "toy", "files": list(FILES)}


def _toy_tokenizer(path: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    text = [gen.READ_SYSTEM, gen.ANSWER_SYSTEM] + ["\n".join(v) for v in FILES.values()] + [q["question"] for q in QUESTIONS]
    tok.train_from_iterator(text * 3, trainer=trainer)
    path.mkdir(parents=True, exist_ok=True)
    tok.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>", "pad_token": "<pad>"}))
    return path / "tokenizer.json"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    tokp = _toy_tokenizer(root / "tok")
    tok = gen.GenTokenizer(tokp)
    rng = random.Random(0)
    rows = []
    for _ in range(3):
        for q in QUESTIONS:
            for L in (512, 1024):
                rows += gen.examples_for(q, CTX, FILES, tok, rng, L)
    data = root / "data"
    data.mkdir()
    for split in ("train", "validation"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mc = gen.GenConfig(hidden=16, layers=2, heads=2, kv_heads=1, intermediate=32, max_len=1024)
    tc = gen.TrainConfig(budget_s=120, max_steps=25, stages="512:0.5,1024:0.5", batch_tokens=2048, lr=5e-3, warmup=5, log_every=5)
    run = root / "run"
    info = gen.train(data, run, mc, tc, tokp, "cpu", log=lambda m: None)
    return {"root": root, "tok": tokp, "data": data, "run": run, "info": info, "rows": rows, "mc": mc, "tc": tc}


def test_examples_follow_the_engine_prompts(toy):
    rows = toy["rows"]
    assert {r["task"] for r in rows} >= {"answer", "read", "notes"}
    pos = next(r for r in rows if r["task"] == "answer" and r["qid"] == "q1" and r["answer"])
    assert pos["completion"] == " 40\nCITATIONS: src/config.py:3"
    assert "3| LIMIT = 40" in pos["prompt"] and pos["prompt"].endswith("\n\nANSWER:")
    assert all(r["completion"] == " not found" for r in rows if r["qid"] == "q4" and r["task"] == "answer")
    # The Python prompts are the engine's (src/core/reason/prompts.ts).
    ts = (REPO / "src/core/reason/prompts.ts").read_text()
    for piece in ("Keep short notes: the facts that help answer the question, each with path:line. ",
                  "then one line \"CITATIONS: path:start-end, ...\" naming the lines that show it.",
                  "Question: ${question}\\n\\nNotes so far:\\n${memory || '(none)'}\\n\\nCode:\\n${code}\\n\\nRewrite the notes.",
                  "replyPrefix: 'ANSWER:'", "replyPrefix: 'Notes:\\n'"):
        assert piece in ts, piece
    assert gen.parse_answer(" 40\nCITATIONS: src/config.py:3-4") == ("40", [("src/config.py", 3, 4)])


def test_supervised_training_learns_and_resumes(toy):
    info, run = toy["info"], toy["run"]
    assert info["steps"] == 25 and (run / "model" / "config.json").is_file()
    hist = info["history"]
    assert hist[-1]["lm"] < hist[0]["lm"]
    tc = gen.TrainConfig(**{**toy["tc"].__dict__, "max_steps": 27})
    again = gen.train(toy["data"], run, toy["mc"], tc, toy["tok"], "cpu", log=lambda m: None)
    assert again["steps"] == 27


def test_reward():
    wt = RewardWeights()
    ok = gen.gen_reward(" 40\nCITATIONS: a.py:3", "40", "a.py", 3, [["a.py", 3, 3]], 6, 24, wt)
    assert ok["answer"] == 1.0 and ok["cite"] == 0.5 and ok["total"] == pytest.approx(1.5 - 0.2 * 6 / 24)
    wrong = gen.gen_reward(" 41\nCITATIONS: a.py:9", "40", "a.py", 3, [["a.py", 3, 3]], 6, 24, wt)
    assert wrong["answer"] == 0.0 and wrong["cite"] == 0.0
    none = gen.gen_reward(" not found", None, None, None, [], 2, 24, wt)
    assert none["answer"] == 1.0 and none["cite"] == 0.5


def test_grpo_steps_run(toy):
    out = toy["root"] / "rl"
    rc = gen.RLConfig(steps=2, batch=2, group=2, max_new=8, max_len=1024, eval_prompts=2, lr=1e-3)
    info = gen.train_rl(toy["data"], toy["run"], out, rc, tokenizer=toy["tok"], log=lambda m: None)
    assert (out / "model" / "config.json").is_file()
    assert set(info["reward_before"]) == {"total", "answer", "cite", "cost"}
    assert sum(1 for h in info["log"] if "reward" in h) == 2


def test_eval_in_the_reader_format(toy, tmp_path):
    rows = [{"qid": "q1", "kind": "constant", "question": QUESTIONS[0]["question"], "memory": "", "path": "src/config.py",
             "startLine": 1, "lines": FILES["src/config.py"], "target": "40", "targetText": "40", "answerLines": [3, 3],
             "keepLines": [3]},
            {"qid": "q4", "kind": "unanswerable", "question": QUESTIONS[3]["question"], "memory": "", "path": "src/util.py",
             "startLine": 1, "lines": FILES["src/util.py"], "target": None, "targetText": None, "answerLines": None,
             "keepLines": []}]
    for split in ("validation", "test"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rep = gen.evaluate(toy["run"], tmp_path, toy["tok"], questions=None, log=lambda m: None)
    test = rep["generative"]["test"]
    assert test["questions"] == 2 and set(test["by_kind"]) == {"constant", "unanswerable"}


def test_export_matches_pytorch_with_past(toy):
    out = toy["root"] / "export"
    info = gen.export(toy["run"], out, toy["tok"], card="# toy\n")
    for name in ("config.json", "generation_config.json", "tokenizer.json", "onnx/model.onnx",
                 "onnx/model_quantized.onnx", "README.md", "export.json"):
        assert (out / name).is_file(), name
    assert info["parity"]["fp32"]["prefill"] < 1e-4 and info["parity"]["fp32"]["decode_step"] < 1e-4
    assert info["parity"]["int8"]["decode_step"] < 1.0
    names = [i.name for i in ort.InferenceSession(str(out / "onnx/model.onnx")).get_inputs()]
    assert names[:3] == ["input_ids", "attention_mask", "position_ids"] and "past_key_values.1.value" in names


def test_card_and_publish_rule(toy, tmp_path):
    info = gen.export(toy["run"], tmp_path / "x", toy["tok"])
    card = gen.model_card("toy", "0.0.1", toy["info"], info, None, None)
    assert "past key values" in card and "parameters" in card
    by = lambda acc: {"test": {"by_kind": {k: {"questions": 4, "accuracy": a} for k, a in acc.items()}}}  # noqa: E731
    report = {"generative": by({"constant": 0.5, "unanswerable": 1.0}), "extractive": by({"constant": 0.5, "unanswerable": 0.2})}
    assert gen.wins(report) == []  # "not found" everywhere wins nothing
    with pytest.raises(ValueError, match="no kind"):
        gen.publish(toy["run"], tmp_path / "models", "0.0.1", report, tokenizer=toy["tok"])
    assert not (tmp_path / "models").exists()
    report["generative"]["test"]["by_kind"]["constant"]["accuracy"] = 0.75
    assert gen.wins(report) == ["constant"]
