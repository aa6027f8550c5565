"""Pieces every trainer shares: JSONL reading, device choice, crash-safe checkpoints."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines() if l.strip()]


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def save_ckpt(path: Path, model: nn.Module, opt: torch.optim.Optimizer, step: int, seconds: float, config: Any) -> None:
    """Writes beside the checkpoint, then renames: a killed run never leaves half a checkpoint."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "seconds": seconds,
                "config": asdict(config)}, tmp)
    tmp.replace(path)
