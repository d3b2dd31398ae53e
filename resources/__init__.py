"""Bundled data: ONNX models with their cards (models/), demo cases (demo/), window presets."""
