"""Weights read back from a shipped model's ONNX: a fresh checkout holds the shipped models and none
of their training runs, and RL and fine-tuning start from the weights, so `from-onnx` must give the
exact tensors that were exported, and refuse a file of another model with a clear message."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import pytest
import torch

from engram_training import compressor, reader
from engram_training.compressor import CompressorConfig, CompressorModel
from engram_training.publish import export_encoder_onnx
from engram_training.reader import ReaderConfig, ReaderModel
from engram_training.reader_publish import export_reader_onnx


M = TypeVar("M", bound=torch.nn.Module)


def _trained(model: M) -> M:
    """Distinct weights, as after training: the exporter stores equal tensors (a fresh model's
    LayerNorms) once, and such a file cannot say which parameter each was."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _shipped_reader(folder: Path, features: bool) -> ReaderModel:
    c = ReaderConfig(vocab_size=300, d_model=32, layers=2, heads=2, ff=64, max_len=128, features=features)
    torch.manual_seed(1)
    model = _trained(ReaderModel(c))
    export_reader_onnx(model, folder / "onnx", quantize=False)
    (folder / "config.json").write_text(json.dumps(asdict(c)))
    return model


def _shipped_compressor(folder: Path) -> CompressorModel:
    c = CompressorConfig(vocab_size=300, d_model=32, layers=2, heads=2, ff=64, max_len=64, dim=16)
    torch.manual_seed(2)
    model = _trained(CompressorModel(c))
    export_encoder_onnx(model, folder / "onnx", ["keep_logits", "embedding"], {"keep_logits"}, c.max_len, c.vocab_size,
                        quantize=False)
    (folder / "config.json").write_text(json.dumps({**asdict(c), "keep_threshold": -0.5}))
    return model


@pytest.mark.parametrize("features", [True, False])
def test_reader_weights_come_back_exactly(tmp_path: Path, features: bool, capsys: pytest.CaptureFixture) -> None:
    model = _shipped_reader(tmp_path / "reader-0.0.1", features)
    assert reader.main(["from-onnx", "--model", str(tmp_path / "reader-0.0.1"), "--out", str(tmp_path / "run")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["config"]["features"] is features and info["onnx_max_abs_diff"] < 1e-4
    back = reader.load_model(tmp_path / "run")
    want = model.state_dict()
    assert set(back.state_dict()) == set(want)
    for name, t in back.state_dict().items():
        assert torch.equal(t, want[name]), name


def test_compressor_weights_and_threshold_come_back(tmp_path: Path) -> None:
    model = _shipped_compressor(tmp_path / "c")
    info = compressor.run_from_onnx(tmp_path / "c", tmp_path / "run")
    assert info["keep_threshold"] == -0.5
    back = compressor.load_model(tmp_path / "run")
    for name, t in back.state_dict().items():
        assert torch.equal(t, model.state_dict()[name]), name
    assert json.loads((tmp_path / "run" / "train.json").read_text())["keep_threshold"] == -0.5


def test_another_models_onnx_is_refused_by_name(tmp_path: Path) -> None:
    _shipped_compressor(tmp_path / "c")
    with pytest.raises(SystemExit, match=r"reader from-onnx: .*is not an Engram reader: .*does not hold this architecture"):
        reader.main(["from-onnx", "--model", str(tmp_path / "c"), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run" / "model.pt").exists()
