"""Which models exist: bundled ones in resources/models and user-added ones in the user folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

from core.errors import ModelError
from core.models.card import ModelCard
from core.paths import models_dir, user_data_dir


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelRegistry:
    """Cards found in the given folders (bundled first); a user model may not shadow a bundled name."""

    def __init__(self, folders: list[Path] | None = None) -> None:
        self.folders = folders if folders is not None else [models_dir(), user_data_dir() / "models"]
        self.cards: dict[str, ModelCard] = {}
        self.problems: list[ModelError] = []
        for folder in self.folders:
            if not Path(folder).is_dir():
                continue
            for card_path in sorted(Path(folder).glob("*.json")):
                try:
                    card = ModelCard.read(card_path)
                except ModelError as exc:
                    self.problems.append(exc)
                    continue
                if card.name in self.cards:
                    self.problems.append(ModelError(f"duplicate model name {card.name!r} ignored", str(card_path)))
                    continue
                self.cards[card.name] = card

    def names(self) -> list[str]:
        return sorted(self.cards)

    def card(self, name: str) -> ModelCard:
        try:
            return self.cards[name]
        except KeyError:
            raise ModelError(f"no model named {name!r}; known: {', '.join(self.names()) or 'none'}") from None

    def by_task(self, task: str) -> ModelCard:
        matches = [c for c in self.cards.values() if c.task == task]
        if not matches:
            raise ModelError(f"no model for task {task!r} in {', '.join(str(f) for f in self.folders)}")
        return matches[0]

    def verify(self, name: str) -> ModelCard:
        """sha256 of the .onnx must equal the card's: a changed or corrupted file is refused."""
        card = self.card(name)
        path = card.onnx_path
        if not path.is_file():
            raise ModelError(f"model file {card.file} is missing", str(path))
        digest = sha256_of(path)
        if digest != card.sha256:
            raise ModelError(f"model file changed: sha256 {digest[:12]}... does not match its card ({card.sha256[:12]}...); refusing to load", str(path), code="sha256-mismatch")
        return card
