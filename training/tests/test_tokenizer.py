"""Byte-level BPE: round trip, special tokens, and the shipped parity fixture."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from engram_training.tokenizer import PARITY_SAMPLES, SPECIAL_TOKENS, parity_fixture, save, train_tokenizer

REPO = Path(__file__).resolve().parents[2]
SAMPLE = [
    "def load_config(path, retries=3):\n    return validate(path)\n" * 20,
    "export function openSocket(host, port = 8080) { return connect(host, port); }\n" * 20,
    "int main(void) { return 0; }\n" * 10,
]


def test_round_trip_and_special_tokens(tmp_path: Path) -> None:
    tok = train_tokenizer(SAMPLE, vocab_size=400, min_frequency=1)
    save(tok, tmp_path)
    loaded = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in PARITY_SAMPLES + ["never seen: ζ∑ 🚀 \x00\x7f weird\tbytes\r\n"]:
        ids = loaded.encode(text, add_special_tokens=False).ids
        assert loaded.decode(ids, skip_special_tokens=False) == text
    for i, special in enumerate(SPECIAL_TOKENS):
        assert loaded.token_to_id(special) == i
    ids = loaded.encode("<question> where? <block> code", add_special_tokens=False).ids
    assert loaded.token_to_id("<question>") in ids and loaded.token_to_id("<block>") in ids
    # Merges learned from the sample make its words shorter than their bytes.
    assert len(loaded.encode("load_config", add_special_tokens=False).ids) < len("load_config")
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["pad_token"] == "<pad>"


def test_parity_fixture_matches_the_tokenizer_it_names() -> None:
    fixture = json.loads((REPO / "test" / "fixtures" / "tokenizer-parity.json").read_text())
    tok = Tokenizer.from_file(str(REPO / fixture["tokenizer"]))
    assert tok.get_vocab_size() == fixture["vocabSize"]
    assert parity_fixture(tok, fixture["tokenizer"], [c["text"] for c in fixture["cases"]]) == fixture
