"""The findings panel when the CT input is outside the models' training data (scores greyed with the reason,
never a POSITIVE flag), and the basal-ganglia summary agreeing with the laterality rows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.viewer.findings import OOD_TEXT, FindingsPanel, laterality_summary
from app.viewer.scoring import ScoringRunner, shared_ct_scorer
from app.viewer.state import ViewerState
from core.tasks import CTScorer
from tests.screenshots import screenshot_path



@pytest.fixture(scope="module")
def results(demo_volume):
    s = CTScorer(threads=2)
    return s.score_ich(demo_volume), s.score_bg(demo_volume)


@pytest.fixture
def panel(qtbot, demo_volume):
    state = ViewerState()
    p = FindingsPanel(state, ScoringRunner(state, ct_scorer=shared_ct_scorer()))
    qtbot.addWidget(p)
    p.resize(460, 760)
    p.show()
    state.set_volume(demo_volume)
    yield p
    p.shutdown()


def _outside(ich, bg, reason="the slices are far from every training slice (abdomen-like anatomy)"):
    ood = replace(ich.ood, in_distribution=False, score=2.0 * ich.ood.threshold, reason=reason)
    return replace(ich, ood=ood), replace(bg, ood=ood)


def test_out_of_distribution_scores_are_greyed_with_the_reason_and_never_positive(qtbot, panel, results):
    ich, bg = _outside(*results)
    panel.state.set_findings(ich=ich, bg=bg)
    flags = panel.row_flags()
    assert set(flags) == {*ich.labels, "bg_left", "bg_right"}
    assert set(flags.values()) == {"not scored"} and not any(f for _, f in panel.row_values().values())
    assert panel.ood_label.isVisible() and panel.ood_label.text().startswith(OOD_TEXT)
    assert "abdomen-like anatomy" in panel.ood_label.text()
    assert "not scored" in panel.summary.text() and "#ff6b6b" not in panel.summary.text()
    assert panel.grab().save(str(screenshot_path("findings_ood.png")))
    panel.state.set_findings(ich=results[0], bg=results[1])  # back in distribution: flags again at the card thresholds
    assert not panel.ood_label.isVisible() and "not scored" not in panel.row_flags().values()


def test_laterality_summary_names_a_side_only_when_its_row_is_flagged(qtbot, panel, results):
    ich, bg = results
    thr = panel.thresholds["bg_left"]
    # P(hemorrhage) over the threshold but neither side's probability: the rows flag nothing, the summary names nothing
    unsure = replace(bg, p_hemorrhage=min(1.0, thr + 0.2), side="left",
                     series_probs={"none": 0.2, "left": thr * 0.6, "right": thr * 0.5})
    panel.state.set_findings(ich=ich, bg=unsure)
    assert not panel.row_values()["bg_left"][1] and not panel.row_values()["bg_right"][1]
    assert "LEFT" not in panel.summary.text() and "no side flagged" in panel.summary.text()
    left = replace(unsure, series_probs={"none": 0.1, "left": min(1.0, thr + 0.1), "right": thr * 0.5})
    panel.state.set_findings(ich=ich, bg=left)
    assert panel.row_values()["bg_left"][1] and not panel.row_values()["bg_right"][1]
    assert "LEFT" in panel.summary.text() and "RIGHT" not in panel.summary.text()
    unverified = replace(left, side="unverified")
    assert "side unverified" in laterality_summary(unverified, panel.thresholds, True)
    # the scorer called no side (e.g. the ICH model flags no hemorrhage): no row flagged even over the threshold
    not_called = replace(left, side="none")
    panel.state.set_findings(ich=ich, bg=not_called)
    assert not panel.row_values()["bg_left"][1] and "LEFT" not in panel.summary.text()


def test_a_thin_slice_series_says_it_was_scored_as_slabs(qtbot, panel, demo_volume):
    """core.tasks.slabs: 1 mm slices are averaged into ~5 mm slabs; the panel says so under the laterality line."""
    import numpy as np
    from scipy import ndimage

    dz = demo_volume.spacing[0]
    aff = demo_volume.affine.copy()
    aff[:3, 2] /= dz / 1.0
    thin = replace(demo_volume, voxels=ndimage.zoom(demo_volume.voxels, (dz, 1, 1), order=1).astype(np.float32), affine=aff)
    s = CTScorer(threads=2)
    ich, bg = s.score_ich(thin), s.score_bg(thin)
    panel.state.set_volume(thin)
    panel.state.set_findings(ich=ich, bg=bg)
    assert ich.slabs is not None and f"{ich.slabs.n_slabs} slabs of 5.0 mm" in panel.summary.text()
    assert panel.grab().save(str(screenshot_path("findings_thin_slabs.png")))
