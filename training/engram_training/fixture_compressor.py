"""Build the tiny fixture compressor that the TypeScript compressor tests run.

A 1-layer encoder with random weights (fixed seed) that follows the compressor
contract (/work/helper-notes/compressor-contract.md, DESIGN.md "Models"): inputs
input_ids [B,T] and attention_mask [B,T] (int64, right padding); outputs
keep_logits [B,T] and embedding [B,dim] (L2-normalised masked mean through a
linear layer). The tokenizer is a small byte-level BPE with the special tokens of
models/engram-tokenizer at the same ids, so the engine builds the same inputs.
Not a useful model: its keep threshold (a logit, as the real model's) is the median
keep logit on a toy corpus, so about half the tokens are kept and the tests see both kinds.

    config.json, tokenizer.json, tokenizer_config.json, README.md
    onnx/model.onnx            fp32
    onnx/model_quantized.onnx  int8 dynamic quantisation

Regenerate (a few seconds on a CPU):

    cd training && .venv/bin/python -m engram_training.fixture_compressor \
        --out ../test/fixtures/tiny-compressor
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from torch import nn

SEED = 4321
VOCAB = 400
D_MODEL = 32
HEADS = 2
DIM = 64
MAX_LEN = 256
LINE_MAX = 64
SPECIAL = ["<pad>", "<s>", "</s>", "<unk>", "<question>", "<memory>", "<block>", "<sep>", "<answer>", "<none>", "<mask>"]
NL = "\u010a"
CORPUS = [
    "export const RETRY_BASE_MS = 250;\nexport async function fetchWithRetry(url: string, tries = 3) {\n",
    "  for (let i = 0; i < tries; i++) {\n    try { return await get(url); } catch (e) { await sleep(RETRY_BASE_MS * 2 ** i); }\n  }\n}\n",
    "def add(a, b):\n    return a + b\n\nclass Store:\n    def get(self, key):\n        return self.items[key]\n",
    "import os\nimport sys\n\nprint(os.getcwd())\n",
    "// where is the retry delay configured?\nconst items = new Map<string, number>();\nitems.set('a', 1);\n",
]


def train_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    for i, s in enumerate(SPECIAL):
        assert tok.token_to_id(s) == i, s
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "pad_token": "<pad>",
                "additional_special_tokens": ["<question>", "<memory>", "<block>", "<answer>", "<none>"],
            },
            indent=1,
        )
        + "\n"
    )
    return tok


class TinyCompressor(nn.Module):
    """Embeddings, one self-attention + feed-forward block, a keep head and an embedding head."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, D_MODEL)
        self.pos = nn.Embedding(MAX_LEN, D_MODEL)
        self.qkv = nn.Linear(D_MODEL, 3 * D_MODEL)
        self.out = nn.Linear(D_MODEL, D_MODEL)
        self.ff = nn.Sequential(nn.Linear(D_MODEL, 2 * D_MODEL), nn.GELU(), nn.Linear(2 * D_MODEL, D_MODEL))
        self.n1 = nn.LayerNorm(D_MODEL)
        self.n2 = nn.LayerNorm(D_MODEL)
        self.keep = nn.Linear(D_MODEL, 1)
        self.proj = nn.Linear(D_MODEL, DIM)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        b, t = input_ids.shape
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(pos)
        m = attention_mask.to(x.dtype)
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, HEADS, D_MODEL // HEADS).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / (D_MODEL // HEADS) ** 0.5 + (1.0 - m)[:, None, None, :] * -1e4
        h = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, D_MODEL)
        x = x + self.out(h)
        x = x + self.ff(self.n2(x))
        keep = self.keep(x).squeeze(-1)
        mean = (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        emb = nn.functional.normalize(self.proj(mean), dim=-1)
        return keep, emb


def encode_corpus(tok, nl: int) -> list[list[int]]:
    """`<block>` + each line's tokens + newline, as the engine builds a chunk's window."""
    rows = []
    for text in CORPUS:
        ids = [SPECIAL.index("<block>")]
        for line in text.split("\n"):
            ids += (tok.encode(line).ids if line else [])[:LINE_MAX] + [nl]
        rows.append(ids[:MAX_LEN])
    return rows


def export(model: TinyCompressor, out: Path) -> None:
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    ids = torch.randint(0, VOCAB, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.int64)
    mask[1, 5:] = 0
    with torch.no_grad():
        torch.onnx.export(
            model,
            (ids, mask),
            str(onnx_dir / "model.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["keep_logits", "embedding"],
            dynamic_axes={
                "input_ids": {0: "batch_size", 1: "sequence_length"},
                "attention_mask": {0: "batch_size", 1: "sequence_length"},
                "keep_logits": {0: "batch_size", 1: "sequence_length"},
                "embedding": {0: "batch_size"},
            },
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(onnx_dir / "model.onnx"), str(onnx_dir / "model_quantized.onnx"), weight_type=QuantType.QInt8)


def build(out: Path) -> dict:
    torch.manual_seed(SEED)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tok = train_tokenizer(out)
    nl = tok.token_to_id(NL)
    assert nl is not None, "the corpus has newlines, so the newline byte is a token"
    model = TinyCompressor(tok.get_vocab_size()).eval()
    with torch.no_grad():
        logits = []
        for row in encode_corpus(tok, nl):
            x = torch.tensor([row])
            keep, _ = model(x, torch.ones_like(x))
            logits += keep[0, 1:].tolist()
    threshold = round(float(torch.tensor(logits).median()), 6)
    config = {
        "model_type": "engram-compressor",
        "name": "tiny-compressor",
        "version": "0.0.1",
        "vocab_size": tok.get_vocab_size(),
        "d_model": D_MODEL,
        "layers": 1,
        "heads": HEADS,
        "max_len": MAX_LEN,
        "line_max_tokens": LINE_MAX,
        "dim": DIM,
        "special_tokens": {s: SPECIAL.index(s) for s in ("<s>", "<question>", "<block>")},
        "newline_token": nl,
        "keep_threshold": threshold,
        "keep_rule": "keep a token when keep_logits >= keep_threshold (a logit)",
        "outputs": ["keep_logits", "embedding"],
    }
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    export(model, out)
    (out / "README.md").write_text(
        "# tiny-compressor (test fixture)\n\n"
        f"A 1-layer encoder (d_model {D_MODEL}, {HEADS} heads, vocab {tok.get_vocab_size()}, dim {DIM}) with random "
        "weights that follows the engram-compressor ONNX contract, for the compressor tests. Its keep threshold "
        "is the median keep logit on a toy corpus. Not a useful model. Regenerate with "
        "`python -m engram_training.fixture_compressor` (see training/engram_training/fixture_compressor.py).\n"
    )
    return config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "test/fixtures/tiny-compressor")
    args = ap.parse_args()
    config = build(args.out)
    print(f"wrote {args.out} (keep threshold {config['keep_threshold']}, newline {config['newline_token']})")


if __name__ == "__main__":
    main()
