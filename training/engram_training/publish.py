"""Shipping a trained model into `models/<name>/` (DESIGN.md "Models"): ONNX fp32 and
int8 in the Optimum layout (`onnx/model.onnx`, `onnx/model_quantized.onnx`), config,
tokenizer, a model card, and the entry in `models/manifest.json` with sha256 per file."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def update_manifest(manifest: Path, entry: dict, models_root: Path) -> None:
    """Adds or replaces the entry with this name; other models' entries are kept as they are."""
    data = json.loads(manifest.read_text()) if manifest.exists() else {"models": []}
    folder = models_root / entry["path"]
    entry["files"] = [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                      for p in sorted(folder.rglob("*")) if p.is_file()]
    data["models"] = [m for m in data.get("models", []) if m.get("name") != entry["name"]] + [entry]
    manifest.write_text(json.dumps(data, indent=1) + "\n")


def export_encoder_onnx(model: torch.nn.Module, onnx_dir: Path, outputs: list[str], seq_outputs: set[str],
                        max_len: int, vocab: int, quantize: bool = True) -> dict[str, dict[str, float]]:
    """input_ids, attention_mask [B,T] -> `outputs` ([B,T] for those in seq_outputs, else [B,...]) as
    ONNX fp32 (and int8 dynamic quantization); max |delta| against PyTorch per file and output, on
    other shapes than the export's (padded positions of [B,T] outputs are never read, so left out)."""
    import onnxruntime as ort
    onnx_dir.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(11, vocab, (2, 29), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    fp32 = onnx_dir / "model.onnx"
    seq = {0: "batch_size", 1: "sequence_length"}
    axes = {"input_ids": seq, "attention_mask": seq, **{o: (seq if o in seq_outputs else {0: "batch_size"}) for o in outputs}}
    torch.onnx.export(model, (ids, mask), str(fp32), input_names=["input_ids", "attention_mask"], output_names=outputs,
                      opset_version=17, dynamo=False, dynamic_axes=axes)
    files = [("fp32", fp32)]
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        int8 = onnx_dir / "model_quantized.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        files.append(("int8", int8))
    ids2 = torch.randint(11, vocab, (3, min(max_len, 150)), generator=g)
    mask2 = torch.ones_like(ids2)
    mask2[2, 70:] = 0
    with torch.no_grad():
        res = model(ids2, mask2)
    ref = [r.numpy() for r in (res if isinstance(res, tuple) else (res,))]
    m = mask2.numpy().astype(bool)
    out: dict[str, dict[str, float]] = {}
    for name, path in files:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = sess.run(outputs, {"input_ids": ids2.numpy(), "attention_mask": mask2.numpy()})
        out[name] = {o: float(np.abs((a[m] - b[m]) if o in seq_outputs else (a - b)).max())
                     for o, a, b in zip(outputs, got, ref)}
    if max(out["fp32"].values()) > 1e-3:
        raise RuntimeError(f"ONNX fp32 output differs from PyTorch: {out['fp32']}")
    return out


def weights_from_onnx(model: torch.nn.Module, path: Path) -> dict[str, torch.Tensor]:
    """`model`'s state dict read back from an ONNX file that a model of the same architecture
    exported (export_encoder_onnx), so training can start from a shipped model whose run is gone.
    Named initializers are taken as they are; a Linear weight that the exporter stored as an
    anonymous, transposed MatMul constant is named by the bias that its MatMul's output is added to."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(str(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    added_to: dict[str, list[str]] = {}
    for node in graph.node:
        if node.op_type == "Add":
            for i in node.input:
                added_to.setdefault(i, []).extend(x for x in node.input if x != i)
    want = model.state_dict()
    weights = dict(inits)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in inits or node.input[1] in want:
            continue
        biases = [b for b in added_to.get(node.output[0], []) if b.endswith(".bias") and b in inits]
        if len(biases) != 1:
            raise ValueError(f"{path}: cannot tell which layer the MatMul weight {node.input[1]} belongs to")
        weights[biases[0][: -len("bias")] + "weight"] = inits[node.input[1]].T
    state = {}
    for name, ref in want.items():
        arr = weights.get(name)
        if arr is None or tuple(arr.shape) != tuple(ref.shape):
            found = "missing" if arr is None else f"shape {tuple(arr.shape)}"
            raise ValueError(f"{path} does not hold this architecture: {name} {tuple(ref.shape)} is {found} "
                             "(or the exporter stored it once with an equal tensor, as an untrained model's)")
        state[name] = torch.from_numpy(np.array(arr, copy=True)).to(ref.dtype)
    return state


def export_classifier_onnx(model: torch.nn.Module, onnx_dir: Path, max_len: int, vocab: int) -> dict:
    """input_ids, attention_mask -> logits [B]; fp32 and int8 checked against PyTorch."""
    diffs = export_encoder_onnx(model, onnx_dir, ["logits"], set(), max_len, vocab)
    return {f"{name}_max_abs_diff": d["logits"] for name, d in diffs.items()}


def copy_tokenizer(tokenizer_dir: Path, out: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir / name, out / name)


def publish_gate(run: Path, out: Path, tokenizer_dir: Path, manifest: Path, version: str = "0.1.0") -> dict:
    from .gate import load_model
    model = load_model(run)
    info = json.loads((run / "train.json").read_text())
    ev = json.loads((run / "eval.json").read_text())
    data_stats = json.loads((run.parent / "stats.json").read_text()) if (run.parent / "stats.json").exists() else {}
    out.mkdir(parents=True, exist_ok=True)
    c = info["config"]
    parity = export_classifier_onnx(model, out / "onnx", c["max_len"], c["vocab_size"])
    copy_tokenizer(tokenizer_dir, out)
    config = {"model_type": "engram-gate", "architectures": ["GateModel"], **c,
              "inputs": "<s> <question> QUESTION <memory> MEMORY <block> PATH:START-END\\nBLOCK",
              "question_max_tokens": 64, "memory_max_tokens": 96, "output": "logits [batch]: sigmoid = P(relevant)",
              "threshold_logit": ev["threshold"]["logit"]}
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    n_params = sum(p.numel() for p in model.parameters())
    t = ev["test"]
    card = f"""# engram-gate {version}

Relevance gate for Engram: a classifier over (question, working memory, block) that says
whether a memory block is worth reading. Trained from scratch by `training/` (issue 5).

- Architecture: {c['layers']}-layer pre-LN transformer encoder, d={c['d_model']}, {c['heads']} heads,
  ff={c['ff']}, mean pooling, one logit; {n_params / 1e6:.2f}M parameters; inputs up to {c['max_len']} tokens
  (engram-tokenizer, byte-level BPE, 12K).
- Input: `<s> <question> Q <memory> M <block> path:start-end\\n<block text>` (question ≤ 64 tokens,
  memory ≤ 96, the block fills the rest). Output `logits` [batch]; sigmoid gives P(relevant).
- Files: `onnx/model.onnx` (fp32), `onnx/model_quantized.onnx` (int8 dynamic quantization).
  ONNX vs PyTorch max |Δlogit| on a random batch: fp32 {parity['fp32_max_abs_diff']:.2e}, int8 {parity['int8_max_abs_diff']:.2e}.

## Data
Code QA generated from the train split of a corpus of pinned npm and PyPI packages
(training/README.md), split by repository; no test or validation repository is seen in training. Positives: blocks holding the QA
evidence; hard negatives: other blocks of the same file, blocks naming the question's
identifiers, BM25 look-alikes, one random block; unanswerable questions give negatives only;
call-chain questions also appear with a working memory holding the first hop.
Training examples: {info['train_examples']} ({data_stats.get('train', {}).get('positives', '?')} positive).

## Training budget
{info['steps']} steps of batch {info['batch_size']} ({info['examples_seen']} examples seen), {info['seconds']:.0f} s on {info['device_name']},
AdamW lr {info['lr']}, cosine schedule, seed {info['seed']}. Final training loss {info['final_loss']:.4f}.

## Evaluation (held-out test repositories: esprima, rxjs, io-ts, tomli, pyparsing, six)
Candidates per question: every block of the context when it has at most 64, else BM25's top 64
from the whole context (recall is counted against all evidence blocks, so BM25's misses count).
Mean recall of the evidence blocks over {t['gate']['questions']} answerable questions:

| ranker | recall@4 | recall@8 | recall@16 |
|---|---|---|---|
| gate | {t['gate']['recall@4']} | {t['gate']['recall@8']} | {t['gate']['recall@16']} |
| BM25 | {t['bm25']['recall@4']} | {t['bm25']['recall@8']} | {t['bm25']['recall@16']} |
| gate + BM25 (reciprocal-rank fusion) | {t['gate+bm25']['recall@4']} | {t['gate+bm25']['recall@8']} | {t['gate+bm25']['recall@16']} |

By context size (gate / BM25 recall@8): {', '.join(f"{k}: {v['recall@8']} / {t['bm25']['by_size'].get(k, {}).get('recall@8')}" for k, v in t['gate']['by_size'].items())}.

Threshold (chosen for F1 on validation): logit {ev['threshold']['logit']} (p={ev['threshold']['probability']});
on test candidates precision {ev['threshold']['test_precision']}, recall {ev['threshold']['test_recall']}
(positive rate among candidates {ev['threshold']['test_positive_rate']}).
No compressor vectors exist yet, so the comparison with them is still to do.
"""
    (out / "README.md").write_text(card)
    entry = {"name": out.name, "role": "gate", "version": version, "path": out.name,
             "eval": {"test": {"gate": {k: t["gate"][k] for k in ("recall@4", "recall@8", "recall@16")},
                               "bm25": {k: t["bm25"][k] for k in ("recall@4", "recall@8", "recall@16")},
                               "gate+bm25": {k: t["gate+bm25"][k] for k in ("recall@4", "recall@8", "recall@16")},
                               "questions": t["gate"]["questions"]},
                      "threshold": ev["threshold"], "onnxParity": parity, "parameters": n_params}}
    update_manifest(manifest, entry, manifest.parent)
    return {"out": str(out), "parity": parity, "parameters": n_params}
