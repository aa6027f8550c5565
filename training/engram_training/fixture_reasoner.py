"""Build the tiny fixture reasoner that the TypeScript model-runtime tests run.

A Qwen2 decoder of about 0.2M parameters, briefly trained (fixed seed) on a small
code-like corpus so greedy output looks like text, with a byte-level BPE
tokenizer trained by `tokenizers`. Exported to ONNX in the Hugging Face / Optimum
layout:

    config.json, generation_config.json, tokenizer.json, tokenizer_config.json
    onnx/model.onnx            inputs input_ids, attention_mask, position_ids,
                               past_key_values.N.key/value; outputs logits,
                               present.N.key/value
    onnx/model_quantized.onnx  the same graph, int8 dynamic quantisation
    nopast/onnx/model.onnx     a graph without past key values (plus a copy of
                               the json files), as exported with use_cache off
    reference.json             PyTorch logits for a few prompts, and greedy
                               continuations, that the TypeScript tests compare

Regenerate (a few seconds on a CPU):

    cd training && .venv/bin/python -m engram_training.fixture_reasoner \
        --out ../test/fixtures/tiny-reasoner
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from torch import nn

SEED = 1234
VOCAB = 384
PROMPTS = [
    "def add(a, b):",
    "class Store:\n    def",
    "import os\n",
]
CORPUS = [
    "def add(a, b):\n    return a + b\n",
    "def sub(a, b):\n    return a - b\n",
    "def mul(a, b):\n    return a * b\n",
    "class Store:\n    def get(self, key):\n        return self.items[key]\n",
    "class Store:\n    def put(self, key, value):\n        self.items[key] = value\n",
    "import os\nimport sys\n\nprint(os.getcwd())\n",
    "for i in range(10):\n    print(i)\n",
    "if x is None:\n    raise ValueError('x')\n",
    "// TypeScript\nexport function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "const items = new Map<string, number>();\nitems.set('a', 1);\n",
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def train_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "Qwen2Tokenizer",
                "eos_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
                "bos_token": None,
                "add_bos_token": False,
                "model_max_length": 256,
            },
            indent=2,
        )
        + "\n"
    )
    return tok


def build_model(vocab_size: int, eos_id: int):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    config._attn_implementation = "eager"
    torch.manual_seed(SEED)
    return Qwen2ForCausalLM(config)


def train(model, tok, steps: int) -> float:
    """A few hundred steps on the corpus, so greedy continuations are code-like."""
    eos = tok.token_to_id("<|endoftext|>")
    ids = []
    for text in CORPUS:
        ids += tok.encode(text).ids + [eos]
    data = torch.tensor(ids)
    ctx = 48
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(steps):
        starts = torch.randint(0, len(data) - ctx - 1, (16,), generator=g)
        batch = torch.stack([data[s : s + ctx] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss)


class WithPast(nn.Module):
    """Flat tensors in and out, in the Optimum naming, around an HF causal LM."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.layers = model.config.num_hidden_layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        flat = []
        for i in range(self.layers):
            layer = out.past_key_values.layers[i]
            flat += [layer.keys, layer.values]
        return (out.logits, *flat)


class NoPast(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids):
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=False
        ).logits


def export(model, out: Path, nopast: bool = True, quantize: bool = True) -> None:
    """ONNX in the Optimum layout with past key values (`out/onnx/model.onnx`), its int8 dynamic
    quantisation (`model_quantized.onnx`) and, with `nopast`, a graph without the cache
    (`out/nopast/onnx/model.onnx`). Shared by this fixture and the generative reasoner."""
    cfg = model.config
    layers, kv_heads = cfg.num_hidden_layers, cfg.num_key_value_heads
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)

    # Trace with a non-empty past so every branch for past length > 0 is kept;
    # a past of length 0 runs through the same graph.
    b, s, p = 1, 3, 2
    ids = torch.randint(0, cfg.vocab_size, (b, s))
    mask = torch.ones(b, p + s, dtype=torch.int64)
    pos = torch.arange(p, p + s).unsqueeze(0)
    past = [torch.randn(b, kv_heads, p, head_dim) for _ in range(2 * layers)]
    past_names = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    axes = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for n in past_names:
        axes[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        axes[n] = {0: "batch_size", 2: "total_sequence_length"}
    with torch.no_grad():
        torch.onnx.export(
            WithPast(model),
            (ids, mask, pos, *past),
            str(onnx_dir / "model.onnx"),
            input_names=["input_ids", "attention_mask", "position_ids", *past_names],
            output_names=["logits", *present_names],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    if nopast:
        nopast_dir = out / "nopast" / "onnx"
        nopast_dir.mkdir(parents=True, exist_ok=True)
        mask0 = torch.ones(b, s, dtype=torch.int64)
        pos0 = torch.arange(s).unsqueeze(0)
        with torch.no_grad():
            torch.onnx.export(
                NoPast(model),
                (ids, mask0, pos0),
                str(nopast_dir / "model.onnx"),
                input_names=["input_ids", "attention_mask", "position_ids"],
                output_names=["logits"],
                dynamic_axes={k: v for k, v in axes.items() if k in ("input_ids", "position_ids", "logits")}
                | {"attention_mask": {0: "batch_size", 1: "sequence_length"}},
                opset_version=17,
                dynamo=False,
            )
    if not quantize:
        return

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(onnx_dir / "model.onnx"), str(onnx_dir / "model_quantized.onnx"), weight_type=QuantType.QInt8
    )


def reference(model, tok, steps: int) -> dict:
    """Last-position logits per prompt and greedy continuations, from PyTorch."""
    eos = tok.token_to_id("<|endoftext|>")
    cases = []
    with torch.no_grad():
        for text in PROMPTS:
            ids = tok.encode(text).ids
            x = torch.tensor([ids])
            logits = model(input_ids=x, use_cache=False).logits[0]
            greedy = []
            cur = list(ids)
            for _ in range(steps):
                nxt = int(model(input_ids=torch.tensor([cur]), use_cache=False).logits[0, -1].argmax())
                greedy.append(nxt)
                if nxt == eos:
                    break
                cur.append(nxt)
            cases.append(
                {
                    "prompt": text,
                    "input_ids": ids,
                    # Every position, so the tests can check prefill and each decode step.
                    "logits": [[round(float(v), 6) for v in row] for row in logits],
                    "greedy_ids": greedy,
                    "greedy_text": tok.decode(greedy),
                }
            )
    return {"seed": SEED, "greedy_steps": steps, "cases": cases}


def build(out: Path, train_steps: int = 300, greedy_steps: int = 24) -> dict:
    torch.manual_seed(SEED)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tok = train_tokenizer(out)
    eos = tok.token_to_id("<|endoftext|>")
    model = build_model(tok.get_vocab_size(), eos)
    loss = train(model, tok, train_steps)
    model.config.save_pretrained(out)
    (out / "generation_config.json").write_text(
        json.dumps(
            {"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos, "do_sample": False, "max_new_tokens": 32},
            indent=2,
        )
        + "\n"
    )
    export(model, out)
    nopast = out / "nopast"
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(out / name, nopast / name)
    ref = reference(model, tok, greedy_steps)
    ref["train_loss"] = round(loss, 4)
    (out / "reference.json").write_text(json.dumps(ref) + "\n")
    (out / "README.md").write_text(
        "# tiny-reasoner (test fixture)\n\n"
        "A 2-layer Qwen2 decoder (hidden 64, GQA 4/2 heads, vocab "
        f"{tok.get_vocab_size()}) briefly trained on a toy code corpus, for the model-runtime tests.\n"
        "Not a useful model. Regenerate with `python -m engram_training.fixture_reasoner` "
        "(see training/engram_training/fixture_reasoner.py).\n"
    )
    return ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "test/fixtures/tiny-reasoner")
    ap.add_argument("--train-steps", type=int, default=300)
    args = ap.parse_args()
    ref = build(args.out, args.train_steps)
    print(f"wrote {args.out} (train loss {ref['train_loss']})")
    for case in ref["cases"]:
        print(repr(case["prompt"]), "->", repr(case["greedy_text"]))


if __name__ == "__main__":
    main()
