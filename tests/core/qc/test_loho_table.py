"""The shipped skull-strip QC card's leave-one-real-head-out table (issue 13: AUC >= 0.95 for every
output on every held-out real head). The table is measured by training (training.qc_loho +
training.qc_stack) and stored in the card; here it is read and checked, head by head. Known misses
are strict xfails carrying the measured number, so they flip when a better model meets the target."""

from __future__ import annotations

import math

import pytest

from core.models.registry import ModelRegistry

TARGET = 0.95
HEADS = ("T1_head_ext2", "colin27", "mni", "pydeface_mean", "robex_atlas", "studyforrest")
OUTPUTS = ("face", "brain_loss", "not_stripped")
# (head, output) -> measured AUC of the bundled model below the target (2.1.0 had colin27 and studyforrest brain
# loss at 0.9464 and 0.9384; 2.2.0 meets the target on every head)
KNOWN_MISSES: dict[tuple[str, str], float] = {}


def _table() -> dict:
    return ModelRegistry().card("skullstrip_qc").metrics["leave_one_head_out"]


def _cases():
    for head in HEADS:
        for out in OUTPUTS:
            miss = KNOWN_MISSES.get((head, out))
            marks = [pytest.mark.xfail(strict=True, reason=f"skullstrip_qc: {out} AUC {miss:.4f} on held-out {head}")] if miss else []
            yield pytest.param(head, out, marks=marks, id=f"{head}-{out}")


def test_every_real_head_was_held_out():
    assert set(_table()) == set(HEADS)


@pytest.mark.parametrize("head,output", list(_cases()))
def test_held_out_head_auc_meets_the_target(head, output):
    row = _table()[head][output]
    if row["n_positive"] == 0 or row["n_positive"] == row["n"]:
        assert math.isnan(row["auc"]), row  # one class only (studyforrest has no face): no AUC to check
        pytest.skip(f"{head} has no {output} {'positives' if row['n_positive'] == 0 else 'negatives'}: AUC undefined")
    assert row["auc"] >= TARGET, row


def test_the_card_also_gives_the_pooled_held_out_figure():
    """One threshold for every head, as on a new site's data (training.qc_stack.loho_pooled): the card carries it beside
    the per-head table, over the same held-out volumes. It is reported, not a target (brain loss 0.876 in 2.2.0)."""
    metrics = ModelRegistry().card("skullstrip_qc").metrics
    pooled, table = metrics["leave_one_head_out_pooled"], metrics["leave_one_head_out"]
    for out in OUTPUTS:
        assert pooled[out]["n"] == sum(table[h][out]["n"] for h in HEADS)
        assert pooled[out]["n_positive"] == sum(table[h][out]["n_positive"] for h in HEADS)
        lo, hi = pooled[out]["auc_ci"]
        assert 0.5 <= lo <= pooled[out]["auc"] <= hi <= 1.0
