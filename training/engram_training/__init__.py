"""Engram's training pipeline: data from real code, models exported to ONNX in models/."""
