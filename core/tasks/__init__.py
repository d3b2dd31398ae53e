"""Scoring tasks over the model runtime: typed results, clear refusals for wrong inputs."""

from core.tasks.ct import BGResult, CTScorer, ICHResult, ModelInfo, score_bg, score_ich

__all__ = ["BGResult", "CTScorer", "ICHResult", "ModelInfo", "score_bg", "score_ich"]
