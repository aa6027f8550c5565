"""Input features that encoders trained from scratch on little data do not learn on their own
(as in DrQA): which segment a token is in, and whether the token also occurs in the
question or in the working memory. Computed inside the model from the ids, so the ONNX
graph takes the same inputs as before and the TypeScript runtime needs no change."""

from __future__ import annotations

from pathlib import Path

import torch

SPACE = "\u0120"  # the byte-level BPE mark of a leading space


def segments(input_ids: torch.Tensor, marks: list[int]) -> torch.Tensor:
    """Segment index per token: 0 before the first mark, k after the k-th (marks in order)."""
    seg = torch.zeros_like(input_ids)
    for m in marks:
        seg = seg + torch.cumsum((input_ids == m).long(), dim=1)
    return seg.clamp(max=len(marks))


def match_features(input_ids: torch.Tensor, attention_mask: torch.Tensor, seg: torch.Tensor,
                   canon: torch.Tensor | None = None, first_plain_id: int = 0) -> torch.Tensor:
    """0..3 per token: +1 if the token occurs in segment 0 (the question), +2 if in segment 1
    (the memory). `canon` maps ids to a canonical id (the same word with and without a
    leading space) and ids below `first_plain_id` (special tokens) never match."""
    ids = canon[input_ids] if canon is not None else input_ids
    valid = attention_mask.bool() & (input_ids >= first_plain_id)
    eq = ids.unsqueeze(2) == ids.unsqueeze(1)
    in_q = (eq & (valid & (seg == 0)).unsqueeze(1)).any(-1)
    in_m = (eq & (valid & (seg == 1)).unsqueeze(1)).any(-1)
    return in_q.long() + 2 * in_m.long()


def canonical_ids(tokenizer_json: Path, vocab_size: int) -> torch.Tensor:
    """id -> id of the same token without its leading-space mark, where the vocabulary has it."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_json))
    canon = torch.arange(vocab_size, dtype=torch.long)
    for i in range(vocab_size):
        t = tok.id_to_token(i)
        if t and t.startswith(SPACE) and len(t) > 1:
            j = tok.token_to_id(t[1:])
            if j is not None and j < vocab_size:
                canon[i] = j
    return canon
