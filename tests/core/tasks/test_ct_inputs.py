"""CT tasks refuse what they cannot honestly score, before touching a model."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.tasks import CTScorer
from core.volume import Volume, ras_affine
from training.synth.ct import make_ct_case


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    from core.models import ModelRegistry

    return CTScorer(ModelRegistry([tmp_path_factory.mktemp("no-models")]))  # a refusal must not need models


def test_mr_volume_is_refused(scorer):
    mr = Volume(np.random.rand(20, 64, 64).astype(np.float32) * 500, ras_affine((1, 1, 1)), "MR")
    with pytest.raises(InputError, match="needs a CT series; this volume is MR"):
        scorer.score_ich(mr)
    with pytest.raises(InputError, match="CT"):
        scorer.score_bg(mr)


def test_three_slice_series_is_refused(scorer):
    ct = make_ct_case(3, size=96, n_slices=3).to_volume()
    with pytest.raises(InputError, match="at least 5 slices; this one has 3"):
        scorer.score_ich(ct)


def test_single_slice_and_non_hu_values_are_refused(scorer):
    one = make_ct_case(3, size=96, n_slices=1).to_volume()
    with pytest.raises(InputError, match="has 1"):
        scorer.score_bg(one)
    fake = Volume(np.random.rand(10, 96, 96).astype(np.float32) * 255, ras_affine((5, 0.5, 0.5)), "CT")
    with pytest.raises(InputError, match="do not look like CT Hounsfield units"):
        scorer.score_ich(fake)


def test_missing_models_are_a_model_error_naming_what_is_missing(scorer):
    from core.errors import ModelError

    ct = make_ct_case(3, size=96, n_slices=8).to_volume()
    with pytest.raises(ModelError, match="no model named 'ich_cnn'"):
        scorer.score_ich(ct)
