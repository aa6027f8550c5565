"""Byte-level BPE tokenizer trained on the corpus's train split, saved as a Hugging Face
`tokenizer.json` that the TypeScript side loads, plus a parity fixture (strings and
their token ids) that the TypeScript side checks it reproduces.

    python -m engram_training.tokenizer train --corpus .data/corpus \
        --out ../models/engram-tokenizer [--vocab 12000] \
        [--parity ../test/fixtures/tokenizer-parity.json]   (run in training/)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# Separators of the model inputs: (question, working memory, block), answers, no-answer.
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<question>", "<memory>", "<block>", "<sep>",
                  "<answer>", "<none>", "<mask>"]

PARITY_SAMPLES = [
    "def load_config(path, retries=3):\n    return validate(path)\n",
    "export const connectTcp = (host: string, port = 80): string => `${host}:${port}`;\n",
    "    if (x !== null && y >= 0x1F) { return arr[i++] ?? -1.5e-3; }\n",
    "<question> Where is `parse_url` defined? <sep> <memory> none <block> src/url.py:12\n",
    "\t\ttabs and  double  spaces\r\nwindows line end\n\n\n",
    "unicode: naïve café — 日本語 🚀 emoji, Ωmega\n",
    "SELECT * FROM users WHERE id = $1; -- comment\n",
    "fn main() { let v: Vec<u8> = vec![1, 2, 3]; println!(\"{:?}\", v); }\n",
    "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }\n",
    "",
]


def build_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int = 12000, min_frequency: int = 2) -> Tokenizer:
    tok = build_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def save(tok: Tokenizer, out: Path) -> None:
    """tokenizer.json plus the small config files transformers and transformers.js read."""
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1_000_000,
              "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
              "mask_token": "<mask>", "sep_token": "<sep>",
              "additional_special_tokens": ["<question>", "<memory>", "<block>", "<answer>", "<none>"],
              "clean_up_tokenization_spaces": False}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=1) + "\n")


def parity_fixture(tok: Tokenizer, tokenizer_path: str, samples: list[str] = PARITY_SAMPLES) -> dict:
    """Strings with their ids, for the TypeScript side to check it tokenizes the same."""
    cases = []
    for s in samples:
        enc = tok.encode(s, add_special_tokens=False)
        cases.append({"text": s, "ids": enc.ids, "tokens": enc.tokens})
    return {"tokenizer": tokenizer_path, "vocabSize": tok.get_vocab_size(),
            "specialTokens": {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}, "cases": cases}


def corpus_texts(corpus: Path, split: str = "train") -> Iterator[str]:
    from .corpus import iter_repo_files, load_manifest
    for rec in load_manifest(corpus):
        if rec.split == split:
            for _, _, text in iter_repo_files(corpus, rec.id):
                yield text


def evaluate(tok: Tokenizer, texts: Iterable[str]) -> dict:
    """Bytes per token and the ratio to the engine's word/punctuation estimate."""
    from .corpus import count_tokens
    n_bytes = n_tok = n_est = 0
    lossless = True
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        n_bytes += len(t.encode("utf-8"))
        n_tok += len(ids)
        n_est += count_tokens(t)
        if lossless and tok.decode(ids, skip_special_tokens=False) != t:
            lossless = False
    return {"bytes": n_bytes, "tokens": n_tok, "bytesPerToken": round(n_bytes / max(1, n_tok), 3),
            "tokensPerEstimate": round(n_tok / max(1, n_est), 3), "lossless": lossless}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engram_training.tokenizer")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train the BPE on the train split and write tokenizer.json")
    t.add_argument("--corpus", type=Path, default=Path(".data/corpus"))
    t.add_argument("--out", type=Path, default=Path("../models/engram-tokenizer"))
    t.add_argument("--vocab", type=int, default=12000)
    t.add_argument("--parity", type=Path, default=None, help="write the parity fixture here")
    args = ap.parse_args(argv)
    t0 = time.time()
    tok = train_tokenizer(corpus_texts(args.corpus, "train"), args.vocab)
    secs = time.time() - t0
    save(tok, args.out)
    stats = {"vocabSize": tok.get_vocab_size(), "trainSeconds": round(secs, 1),
             "validation": evaluate(tok, corpus_texts(args.corpus, "validation"))}
    (args.out / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    if args.parity:
        args.parity.parent.mkdir(parents=True, exist_ok=True)
        repo_root = Path(__file__).resolve().parents[2]
        rel = os.path.relpath((args.out / "tokenizer.json").resolve(), repo_root).replace(os.sep, "/")
        args.parity.write_text(json.dumps(parity_fixture(tok, rel), indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(stats, indent=1))
    print(f"wrote {args.out / 'tokenizer.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
