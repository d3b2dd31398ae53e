"""Model cards: the JSON beside each .onnx (modelled on MONAI bundle metadata.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import ModelError

REQUIRED = ("name", "task", "version", "labels", "input", "outputs", "training_data", "intended_use", "sha256", "file")


@dataclass
class ModelCard:
    name: str
    task: str  # 'ich' | 'bg_laterality' | 'skullstrip_qc' | ...
    version: str
    labels: list[str]  # in output order
    input: dict  # shape, dtype, windows / normalization
    outputs: dict  # output name -> meaning
    training_data: dict  # what, how many, generated or real
    intended_use: str
    sha256: str
    file: str  # .onnx file name beside the card
    date: str = ""
    metrics: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    seed: int | None = None
    extra: dict = field(default_factory=dict)
    path: Path | None = None  # where the card was read from

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"model card cannot be read ({exc})", str(path)) from exc
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise ModelError(f"model card lacks {', '.join(missing)}", str(path))
        known = {f for f in cls.__dataclass_fields__ if f != "path"}
        card = cls(**{k: v for k, v in data.items() if k in known})
        card.extra.update({k: v for k, v in data.items() if k not in known})
        card.path = path
        return card

    @property
    def onnx_path(self) -> Path:
        if self.path is None:
            raise ModelError(f"card of {self.name} was not read from a file")
        return self.path.parent / self.file

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("path")
        extra = data.pop("extra")
        data.update(extra)
        return json.dumps(data, indent=2, sort_keys=True)
