"""The viewer's runner, the headless path and `score` all ask core.tasks.dispatch: a volume no model reads gets
"no model applies" with the reason, never the wrong model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.cli import main
from app.viewer import headless
from app.viewer.scoring import ScoringRunner, task_for
from app.viewer.state import ViewerState
from core.errors import InputError
from core.paths import demo_dir


@pytest.fixture
def us_volume(demo_volume):
    return replace(demo_volume, modality="US")


def test_runner_refuses_with_the_reason_and_runs_nothing(qtbot, us_volume):
    state = ViewerState()
    runner = ScoringRunner(state)
    state.set_volume(us_volume)
    assert task_for(us_volume) is None
    with qtbot.waitSignal(runner.failed, timeout=1000) as failed, qtbot.waitSignal(runner.finished, timeout=1000) as fin:
        assert runner.start() is False
    assert failed.args[0].startswith("no model applies: ") and "US" in failed.args[0]
    assert fin.args == ["failed"] and not runner.is_running()
    assert state.ich is None and state.qc is None


def test_runner_dispatches_ct_and_mri(demo_volume, mri_volume):
    assert task_for(demo_volume) == "ct" and task_for(mri_volume) == "mr"


def test_headless_path_refuses_with_the_reason(us_volume):
    state = ViewerState()
    state.set_volume(us_volume)
    with pytest.raises(InputError, match="no model applies: .*US"):
        headless.run_models(state)
    assert state.ich is None and state.qc is None


def test_score_cli_says_no_ct_model_applies_to_an_mri(capsys):
    rc = main(["score", str(demo_dir() / "mri" / "good.nii.gz")])
    err = capsys.readouterr().err
    assert rc == 2 and "no CT model applies: this is an MRI volume" in err and "good.nii.gz" in err
