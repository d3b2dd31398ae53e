"""training.compare_val's report: AUCs per set and label, and the extra-axial confusion shares."""

from __future__ import annotations

import numpy as np
import pytest

from training.compare_val import EDH, IPH, IVH, SDH, report
from training.datasets.rsna import ICH_LABELS


def test_report_counts_subdurals_read_as_epidural():
    y = np.zeros((8, 6), np.float32)
    y[:4, [0, EDH]] = 1
    y[4:, [0, SDH]] = 1
    lo = np.zeros((8, 6), np.float32)
    lo[:4, EDH], lo[:4, SDH] = 2.0, 1.0  # every epidural read as epidural
    lo[4:, SDH] = 1.0
    lo[4:5, EDH] = 3.0  # one of four subdurals read as epidural
    lo[5:, EDH] = 0.5
    out = report({"inserted val": lo}, {"inserted val": (None, y)})["inserted val"]
    assert out["subdural read as epidural"] == pytest.approx(0.25)
    assert out["epidural read as subdural"] == 0.0
    assert out["any"] is None  # every slice bleeds: no AUC
    assert out["mean(epidural, subdural)"] == pytest.approx((out["epidural"] + out["subdural"]) / 2, abs=1e-4)


def test_report_leaves_unknown_labels_out_and_phe_has_any_only():
    y = np.array([[0], [1], [-1], [1], [0], [0]], np.float32).repeat(6, axis=1)
    lo = np.array([[0.1], [0.9], [-5.0], [0.8], [0.3], [0.2]], np.float32).repeat(6, axis=1)  # the unknown one would spoil it
    out = report({"PHE-SICH val": lo, "CT-ICH val": lo}, {"PHE-SICH val": (None, y), "CT-ICH val": (None, y)})
    assert list(out["PHE-SICH val"]) == ["any", "intraparenchymal"] and out["PHE-SICH val"]["any"] == 1.0
    assert set(out["CT-ICH val"]) == set(ICH_LABELS)


def test_report_ranks_parenchymal_against_ventricular_inserts():
    y = np.zeros((6, 6), np.float32)
    y[:3, [0, IPH]] = 1
    y[3:, [0, IVH]] = 1
    lo = np.zeros((6, 6), np.float32)
    lo[:, IPH] = [2.0, 1.5, 0.2, 0.5, 0.1, 0.0]  # one parenchymal insert below a ventricular one
    out = report({"inserted val": lo}, {"inserted val": (None, y)})["inserted val"]
    assert out["intraparenchymal: parenchymal vs ventricular inserts"] == pytest.approx(8 / 9, abs=1e-4)


def test_report_reads_the_thin_subdural_set_for_any_and_subdural():
    y = np.zeros((6, 6), np.float32)
    y[3:, [0, SDH]] = 1  # three untouched slices, three thin subdurals
    lo = np.zeros((6, 6), np.float32)
    lo[3:, SDH] = [1.0, 2.0, 0.5]
    lo[3:, EDH] = [0.0, 3.0, 0.0]  # the second is read as epidural
    lo[:, 0] = [0.1, 0.2, 0.3, 0.9, 0.8, 0.25]
    out = report({"thin subdural val": lo}, {"thin subdural val": (None, y)})["thin subdural val"]
    assert set(out) == {"any", "subdural", "subdural read as epidural"}
    assert out["any"] == pytest.approx(8 / 9, abs=1e-3) and out["subdural read as epidural"] == pytest.approx(1 / 3, abs=1e-3)
