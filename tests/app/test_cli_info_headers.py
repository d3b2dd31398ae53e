"""`neuroreview info --headers-only` says what the headers show about tilt (before any pixel is read)."""

from __future__ import annotations

import argparse

from tests.core.io.dicom_factory import phantom_hu, write_ct_series


def test_info_headers_only_shows_the_tilt(tmp_path, capsys):
    from app.cli import info

    write_ct_series(tmp_path, phantom_hu(8, 32, 32), tilt_deg=15.0)
    parser = argparse.ArgumentParser()
    info.register(parser.add_subparsers())
    args = parser.parse_args(["info", str(tmp_path), "--headers-only"])
    args.func(args)
    out = capsys.readouterr().out
    assert "warning gantry-tilt: gantry tilt 15.0 deg" in out and "will be realigned" in out
