"""training.evaluate_real writes the inserted-set figure into ich_cnn's card and keeps the one it replaces, with
which model measured each, so a model or generator change shows as before -> after in the card."""

from __future__ import annotations

from core.models.card import ModelCard
from training.evaluate_real import replace_inserted_block


def _card(version: str, metrics: dict) -> ModelCard:
    return ModelCard(name="ich_cnn", task="ich", version=version, labels=["any"], input={}, outputs={}, training_data={},
                     intended_use="research", sha256="", file="ich_cnn.onnx", metrics=metrics)


def test_the_replaced_block_is_kept_one_level_deep_with_its_model():
    card = _card("0.7.1", {})
    replace_inserted_block(card, {"any": {"auc": 0.9}})
    first = card.metrics["inserted_in_real_test_anatomy"]
    assert first["measured_with"] == "ich_cnn 0.7.1" and "_previous" not in first
    card.version = "0.7.2"
    replace_inserted_block(card, {"any": {"auc": 0.93}})
    second = card.metrics["inserted_in_real_test_anatomy"]
    assert second["any"]["auc"] == 0.93 and second["measured_with"] == "ich_cnn 0.7.2"
    assert second["_previous"]["any"]["auc"] == 0.9 and "ich_cnn 0.7.1" in second["_previous"]["note"]
    replace_inserted_block(card, {"any": {"auc": 0.95}}, note="after the generator fix")
    third = card.metrics["inserted_in_real_test_anatomy"]
    assert third["_previous"]["any"]["auc"] == 0.93 and third["_previous"]["note"] == "after the generator fix"
    assert "_previous" not in third["_previous"]  # one level: the card does not grow with every run
