"""Shipping the extractive reader into `models/reader-<version>/`: ONNX fp32 and int8
(Optimum layout), config.json with everything the TypeScript runtime needs to build the
same inputs, the tokenizer, a model card with the held-out figures of the shipped files,
and the `reasoner` entry in models/manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .publish import copy_tokenizer, export_encoder_onnx, update_manifest
from .reader import (LINE_MAX, MAX_SPAN, MEM_MAX, NL, PATH_MAX, Q_MAX, ReaderEncoder, ReaderModel, answers, evaluate,
                     load_model, onnx_forward, run_windows)

OUTPUTS = ["start_logits", "end_logits", "keep_logits", "no_answer_logits"]


def export_reader_onnx(model: ReaderModel, onnx_dir: Path, quantize: bool = True) -> dict:
    """input_ids, attention_mask -> the four heads; checks ONNX against PyTorch on other shapes."""
    c = model.config
    diffs = export_encoder_onnx(model, onnx_dir, OUTPUTS, set(OUTPUTS[:3]), c.max_len, c.vocab_size, quantize)
    return {f"{name}_max_abs_diff": max(d.values()) for name, d in diffs.items()}


def reader_config(model: ReaderModel, th: dict, tokenizer_json: Path) -> dict:
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_json))
    c = model.config
    return {
        "model_type": "engram-reader", "architectures": ["ReaderModel"],
        "vocab_size": c.vocab_size, "d_model": c.d_model, "layers": c.layers, "heads": c.heads, "ff": c.ff,
        "max_len": c.max_len, "question_max_tokens": Q_MAX, "memory_max_tokens": MEM_MAX, "path_max_tokens": PATH_MAX,
        "line_max_tokens": LINE_MAX, "max_span_tokens": MAX_SPAN,
        "special_tokens": {t: tok.token_to_id(t) for t in ("<s>", "<question>", "<memory>", "<block>", "<sep>")},
        "newline_token": tok.token_to_id(NL),
        "inputs": "<s> <question> Q <memory> M <block> PATH <sep> LINE \\n LINE \\n ... (each line tokenized alone)",
        "outputs": OUTPUTS,
        "no_answer_threshold": th["no_answer"], "answer_min_score": th["min_score"], "keep_threshold": th["keep"],
        "answer_rule": "answer when P(no answer) < no_answer_threshold and the span's P(start)*P(end) >= answer_min_score",
        "answer_for_definition_questions": "the defined name on its definition line",
    }


def publish_reader(data: Path, run: Path, out: Path, tokenizer_dir: Path, manifest: Path, version: str = "0.1.0",
                   eval_limit: int | None = None, card: bool = True) -> dict:
    model = load_model(run)
    info = json.loads((run / "train.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    parity = export_reader_onnx(model, out / "onnx")
    copy_tokenizer(tokenizer_dir, out)
    tok_json = tokenizer_dir / "tokenizer.json"
    evals = {}
    for name, f in (("fp32", "model.onnx"), ("int8", "model_quantized.onnx")):
        evals[name] = evaluate(data, run, tok_json, forward=onnx_forward(out / "onnx" / f), limit=eval_limit)
    # fp32 is the default file: its outputs do not depend on the batch (int8's dynamic
    # activation scales are per batch), so its threshold goes in config.json.
    th = evals["fp32"]["thresholds"]
    (out / "config.json").write_text(json.dumps(reader_config(model, th, tok_json), indent=1) + "\n")
    write_examples(data, out, tok_json, th)
    n_params = sum(p.numel() for p in model.parameters())
    stats = json.loads((data / "stats.json").read_text()) if (data / "stats.json").exists() else {}
    if card:
        notes = (run / "notes.md").read_text() if (run / "notes.md").exists() else None
        (out / "README.md").write_text(model_card(version, model, info, evals, parity, stats, n_params, notes))
    t = evals["fp32"]["test"]
    keys = ("span_em_positives", "no_answer_accuracy_negatives", "overall_em", "always_not_found_em", "keep_recall",
            "keep_precision", "windows")
    entry = {"name": "engram-reader", "role": "reasoner", "version": version, "path": out.name,
             "eval": {"test": {**{k: t[k] for k in keys}, "question_accuracy": t["question_level"]["accuracy"]},
                      "test_int8": {k: evals["int8"]["test"][k] for k in keys},
                      "thresholds": th, "thresholds_int8": evals["int8"]["thresholds"],
                      "onnxParity": parity, "parameters": n_params}}
    update_manifest(manifest, entry, manifest.parent)
    (run / "eval_onnx.json").write_text(json.dumps(evals, indent=1) + "\n")
    return {"out": str(out), "parity": parity, "parameters": n_params, "test": t, "test_int8": evals["int8"]["test"],
            "thresholds": th}


def write_examples(data: Path, out: Path, tok_json: Path, th: dict, n: int = 12) -> None:
    """examples.json: reference inputs and the int8 model's outputs, for checking other runtimes
    (the TypeScript one) build the same inputs and read the same answers."""
    rows = [json.loads(l) for l in (data / "test.jsonl").read_text().splitlines()]
    picked = [r for r in rows if r["target"]][:n // 2] + [r for r in rows if not r["target"]][:n - n // 2]
    enc = ReaderEncoder(tok_json)
    wins = [enc.windows(enc.prefix(r["question"], r["memory"], r["path"]), r["lines"], r["startLine"])[0] for r in picked]
    preds = run_windows(wins, onnx_forward(out / "onnx" / "model.onnx"), questions=[r["question"] for r in picked])
    ex = []
    for r, w, p in zip(picked, wins, preds):
        ex.append({"input": {"question": r["question"], "memory": r["memory"],
                             "block": {"path": r["path"], "startLine": r["startLine"], "text": "\n".join(r["lines"])}},
                   "inputIds": w.ids,
                   "output": {"noAnswer": p["noAnswer"], "answer": p["answer"] if answers(p, th) else None,
                              "bestSpan": p["answer"],
                              "keepLines": sorted(l for l, s in p["keep"].items() if s >= th["keep"])}})
    (out / "examples.json").write_text(json.dumps({"dtype": "fp32", "examples": ex}, indent=1) + "\n")


def _budget(info: dict) -> str:
    """The card's training paragraph: a supervised run's (reader.train), an RL run's (reader_rl
    train), or that the weights were read back from a shipped ONNX (reader from-onnx)."""
    if "rl" in info:
        rl, v = info["rl"], info["validation_reward"]
        return (f"{info['method']} from `{info['init']}`: {info['steps']} steps of {rl['windows']} windows × {rl['group']} "
                f"samples ({info['windows_seen']} windows), {info['seconds']:.0f} s on {info['device_name']}, AdamW lr "
                f"{rl['lr']}, KL coefficient {rl['kl_coef']}, ratio clipped to [{1 - rl['clip_low']:.2f}, {1 + rl['clip_high']:.2f}], "
                f"seed {rl['seed']}; reward weights {info['reward']}. Greedy reward on {v['before']['windows']} validation "
                f"windows: {v['before']['greedy']['total']} before, {v['after']['greedy']['total']} after.\n")
    if "from_onnx" in info:
        return f"None here: the weights of {info['version']}, read back from `{info['from_onnx']}`.\n"
    losses = ', '.join(f"{k} {v:.3f}" for k, v in (info.get('final_loss') or {}).items())
    return (f"{info['steps']} steps of batch {info['batch_size']} ({info['examples_seen']} windows seen, {info['epochs_seen']} epochs),\n"
            f"{info['seconds']:.0f} s on {info['device_name']}, AdamW lr {info['lr']}, cosine schedule, seed {info['seed']}.\n"
            f"Final training losses: {losses}.\n{_status(info)}")


def _status(info: dict) -> str:
    if info.get("epochs_seen", 0) >= 10:
        return ""
    return (f"\n**Status: undertrained.** {info['epochs_seen']} epochs is far from convergence (the losses were still "
            "falling steeply when the budget ended), and on 2 shared CPU cores training runs at a few windows per "
            "second, so a longer run needs a GPU: `python -m engram_training.reader train --data DATA --out RUN "
            "--device cuda --budget-s 420 --batch-size 128 --lr 8e-4` (about 2,000 windows/s on an H100), then `export`.\n")


def _row(name: str, s: dict) -> str:
    return (f"| {name} | {s['windows']} | {s['span_em_positives']} | {s['no_answer_accuracy_negatives']} | "
            f"{s['answered']} / {s['answer_precision']} | {s['overall_em']} | {s['always_not_found_em']} | "
            f"{s['keep_recall']} | {s['keep_precision']} |")


def _features(c) -> str:
    if not c.features:
        return ""
    return ("\n  Inputs also carry segment embeddings (question, memory, path, lines) and exact-match embeddings "
            "(the token, ignoring a leading space, also occurs in the question / the memory), computed inside "
            "the graph from the ids, as in DrQA.")


def _qrow(name: str, q: dict, kinds: list[str]) -> str:
    return (f"| {name} | {q['questions']} | {q['accuracy']} | {q['answered']} | "
            + " | ".join(str(q['by_kind'].get(k, {}).get('accuracy', '–')) for k in kinds) + " |")


def model_card(version: str, model: ReaderModel, info: dict, evals: dict, parity: dict, stats: dict, n_params: int,
               run_notes: str | None = None) -> str:
    c = model.config
    t8 = evals["fp32"]["test"]
    kind_names = sorted(t8["question_level"]["by_kind"])
    notes = f"\n## Notes on this run\n\n{(run_notes or '').strip()}\n" if run_notes else ""
    kinds = "\n".join(f"| {k} | {v['windows']} | {v['pos']} | {v['span_em']} | {v['em']} |" for k, v in sorted(t8["by_kind"].items()))
    return f"""# engram-reader {version}

Engram's built-in extractive reasoner. It reads one block at a time with the question and
the working memory, and gives: the answer span (or "not in this block"), and the lines worth
keeping in the working memory. It never writes prose: an answer is always a piece of the
source, so it cites exactly by construction. Trained from scratch by `training/` (issue 6).

- Architecture: {c.layers}-layer pre-LN transformer encoder, d={c.d_model}, {c.heads} heads, ff={c.ff};
  heads: start/end pointer over the block's tokens, per-token keep (pooled per line: mean logit),
  no-answer (first token, mean and pointer-weighted states). {n_params / 1e6:.2f}M parameters, windows of up to
  {c.max_len} tokens (engram-tokenizer, byte-level BPE, 12K).{_features(c)}
- Input: `<s> <question> Q(<=64) <memory> M(<=96) <block> PATH(<=24) <sep>` then each source line
  tokenized on its own (<=64 tokens) followed by the newline token. Longer blocks are read as
  consecutive windows of whole lines. Outputs: `start_logits`, `end_logits`, `keep_logits` [batch, seq],
  `no_answer_logits` [batch]. `config.json` holds the limits, special-token ids and the thresholds.
- For "where is X defined" questions the span is the defined name on its definition line
  (the citation carries the file and line). Spans are read on one line and widened to whole
  words (a name, number or literal; never a BPE piece), in Python and TypeScript alike.
- Files: `onnx/model.onnx` (fp32, the default: its outputs do not depend on what else is in the
  batch), `onnx/model_quantized.onnx` (int8 dynamic quantization: smaller and faster on CPU, but
  its activation scales are per batch, so a window's scores shift slightly with its batch mates).
  ONNX vs PyTorch max |Δlogit|: fp32 {parity['fp32_max_abs_diff']:.2e}, int8 {parity.get('int8_max_abs_diff', float('nan')):.2e}.

## Data
RULER-style code QA from the train split of the corpus of pinned npm and PyPI packages
(training/README.md); validation and test repositories are never seen in training.
A training example is one window of a block (blocks as the gate cuts them): windows holding
the evidence (span = the answer's occurrence on the evidence lines), and hard negatives:
windows of the same file, windows naming the question's identifiers, BM25 look-alikes;
unanswerable questions give negatives only. Call chains also appear with a working memory
holding the first hop; 30% of examples carry an unrelated memory. Each training question gets
up to {stats.get('rename', {}).get('copies', 1)} more copies (each with probability {stats.get('rename', {}).get('p', 0.5)}) with its identifiers
(and an identifier answer) renamed consistently, so names cannot be memorised.
Training windows: {stats.get('train', {}).get('examples', '?')} ({stats.get('train', {}).get('positives', '?')} holding the answer).

## Training budget
{_budget(info)}

## Evaluation (held-out test repositories: esprima, rxjs, io-ts, tomli, pyparsing, six)
Per window, each with its question (8K–128K contexts; no renaming). "Span EM" counts a
positive window right when the chosen span's text (quotes and surrounding whitespace
trimmed) equals the answer and its lines are the answer's lines, whatever the no-answer head
says; "overall EM" also needs the decision right: the model answers when P(no answer) <
{evals['fp32']['thresholds']['no_answer']} and the span's probability >= {evals['fp32']['thresholds']['min_score']}
(both tuned for question-level accuracy on validation, below; int8's own: {evals['int8']['thresholds']}). "Answer precision"
is the share of given answers that are right. Keep lines: score >= {evals['fp32']['thresholds']['keep']} (tuned for F1 on validation).

| model | windows | span EM (positives) | no-answer acc. (negatives) | answers given / precision | overall EM | always "not found" | keep recall | keep precision |
|---|---|---|---|---|---|---|---|---|
{_row('fp32 (test)', t8)}
{_row('int8 (test)', evals['int8']['test'])}
{_row('fp32 (validation)', evals['fp32']['validation'])}

By question kind (fp32, test):

| kind | windows | positives | span EM | overall EM |
|---|---|---|---|---|
{kinds}

Negatives outnumber positives (hard negatives per question), so always answering
"not found" is a strong baseline at the window level. The answer span is useful where the
no-answer head is confident; below that the engine treats its output as evidence and says so
("Not sure (low confidence): the closest evidence is ...") instead of answering.

Per question, as the engine answers (of the windows read for a question — its evidence
windows and the hard negatives — the answering window with the highest (1 - P(no answer)) x
span probability gives the answer; none: "not found"; unanswerable questions are right with
"not found"):

| model | questions | accuracy | answered | {' | '.join(kind_names)} |
|---|---|---|---|{'---|' * len(kind_names)}
{_qrow('fp32 (test)', t8['question_level'], kind_names)}
{_qrow('int8 (test)', evals['int8']['test']['question_level'], kind_names)}
{_qrow('fp32 (validation)', evals['fp32']['validation']['question_level'], kind_names)}
{notes}"""
