"""Errors the user sees: each carries a short code, a plain message and the file it concerns."""

from __future__ import annotations


class NeuroReviewError(Exception):
    """Base for errors that are shown to the user as a message, never as a traceback."""

    code = "error"

    def __init__(self, message: str, path: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        if code:
            self.code = code

    def __str__(self) -> str:
        return f"{self.message} [{self.path}]" if self.path else self.message


class LoadError(NeuroReviewError):
    """A file or folder could not be turned into a Volume."""

    code = "load-error"


class InputError(NeuroReviewError):
    """A Volume is not what a model or task accepts (wrong modality, too few slices, 2-D...)."""

    code = "input-error"


class ModelError(NeuroReviewError):
    """A model file is missing, changed (sha256 mismatch) or cannot run."""

    code = "model-error"
