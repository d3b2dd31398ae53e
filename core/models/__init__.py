"""Model runtime: model cards, a registry of bundled and user-added models verified by sha256, and
ONNX Runtime sessions on the GPU when one is usable, the CPU otherwise (the provider actually got
is reported, never assumed)."""

from core.models.card import ModelCard
from core.models.registry import ModelRegistry, sha256_of
from core.models.runtime import LoadedModel, load_model

__all__ = ["LoadedModel", "ModelCard", "ModelRegistry", "load_model", "sha256_of"]
