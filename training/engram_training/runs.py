"""Pieces every trainer shares: JSONL reading, device choice, crash-safe checkpoints, train flags."""
from __future__ import annotations

import argparse
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


def add_train_parser(sub: argparse._SubParsersAction, model: str, *, epochs: float, d_model: int,
                     layers: int) -> argparse.ArgumentParser:
    """The `train` subcommand with the flags every model has; callers add their own."""
    t = sub.add_parser("train", help="train (resumes from RUN/ckpt.pt)")
    t.add_argument("--data", type=Path, default=Path(f".data/{model}"))
    t.add_argument("--out", type=Path, default=Path(f".data/{model}/run"))
    t.add_argument("--budget-s", type=float, default=600)
    t.add_argument("--epochs", type=float, default=epochs)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--d-model", type=int, default=d_model)
    t.add_argument("--layers", type=int, default=layers)
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    return t
