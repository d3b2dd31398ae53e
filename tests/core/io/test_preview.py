"""Header-predicted geometry warnings (core.io.preview) match what loading then reports."""

from __future__ import annotations


from core.io import load, scan
from core.io.preview import series_header_warnings
from core.volume import WarningCode
from tests.core.io.dicom_factory import phantom_hu, write_ct_series


def test_tilt_and_uneven_spacing_are_predicted_from_headers(tmp_path):
    write_ct_series(tmp_path / "tilt", phantom_hu(8, 32, 32), tilt_deg=15.0)
    write_ct_series(tmp_path / "gaps", phantom_hu(6, 32, 32), positions=[0, 5, 10, 17, 22, 27])
    write_ct_series(tmp_path / "plain", phantom_hu(6, 32, 32))
    for name, want in (("tilt", {WarningCode.GANTRY_TILT}), ("gaps", {WarningCode.IRREGULAR_SPACING}), ("plain", set())):
        res = scan(tmp_path / name)
        predicted = series_header_warnings(res, res.series[0].series_uid)
        assert {w.code for w in predicted} == want, name
        loaded = {w.code for w in load(tmp_path / name).warnings} & {WarningCode.GANTRY_TILT, WarningCode.IRREGULAR_SPACING}
        assert loaded == want, name
    res = scan(tmp_path / "tilt")
    assert "15.0 deg" in series_header_warnings(res, res.series[0].series_uid)[0].message

