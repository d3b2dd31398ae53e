"""The training caches are named by the code that made them, so an edit to that code is never served stale images."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from training.ct_data.cache_key import PHANTOM_CODE, REAL_SLICE_CODE, cache_path, code_fingerprint


@pytest.fixture()
def scratch_modules(tmp_path, monkeypatch):
    """A module and a package on sys.path that the test may edit."""
    (tmp_path / "nr_fp_mod.py").write_text("X = 1\n")
    pkg = tmp_path / "nr_fp_pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "deep.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("nr_fp_")]:
        del sys.modules[name]


def test_fingerprint_is_stable_and_order_free(scratch_modules):
    a = code_fingerprint(("nr_fp_mod", "nr_fp_pkg"))
    assert a == code_fingerprint(["nr_fp_pkg", "nr_fp_mod", "nr_fp_mod"])
    assert len(a) == 12 and int(a, 16) >= 0


def test_fingerprint_changes_with_a_module_or_a_file_deep_in_a_package(scratch_modules):
    before = code_fingerprint(("nr_fp_mod", "nr_fp_pkg"))
    (scratch_modules / "nr_fp_mod.py").write_text("X = 2\n")
    after_module = code_fingerprint(("nr_fp_mod", "nr_fp_pkg"))
    (scratch_modules / "nr_fp_pkg" / "sub" / "deep.py").write_text("Y = 2\n")
    after_package = code_fingerprint(("nr_fp_mod", "nr_fp_pkg"))
    assert len({before, after_module, after_package}) == 3


def test_a_missing_module_is_an_error_not_an_empty_fingerprint():
    with pytest.raises(ModuleNotFoundError, match="nr_no_such_module"):
        code_fingerprint(("nr_no_such_module",))


def test_the_projects_cache_code_lists_resolve_and_differ(tmp_path):
    real, phantom = code_fingerprint(REAL_SLICE_CODE), code_fingerprint(PHANTOM_CODE)
    assert real != phantom
    assert cache_path(tmp_path, "ct_ich", REAL_SLICE_CODE) == tmp_path / f"ct_ich.{real}.npz"


def test_phantom_series_is_cached_under_the_fingerprinted_name(tmp_path):
    from training.ct_data.phantom import phantom_series

    first = phantom_series([4242], tmp_path)
    files = list(tmp_path.glob("phantom_4242.*.npz"))
    assert [f.name for f in files] == [f"phantom_4242.{code_fingerprint(PHANTOM_CODE)}.npz"]
    again = phantom_series([4242], tmp_path)  # read back from the cache, same images
    assert np.array_equal(first[0].img, again[0].img) and first[0].img.dtype == np.uint8
