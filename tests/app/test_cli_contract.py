"""The CLI error contract (issue 17): one `error: MESSAGE [PATH]` line on stderr, the path once, exit 2."""

from __future__ import annotations

import pytest

from app.cli import error_line, main
from core.errors import LoadError
from tests.core.io.dicom_factory import phantom_hu, write_ct_series


def test_error_line_names_the_path_once():
    assert error_line(LoadError("bad\nthing", "/x/a.dcm")) == "error: bad thing [/x/a.dcm]"
    assert error_line(LoadError("first a.dcm failed [/x/a.dcm]", "/x/a.dcm")) == "error: first a.dcm failed [/x/a.dcm]"
    assert error_line(LoadError("no path")) == "error: no path"


def test_usage_mistakes_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["info", "--modality", "PET"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: argument --modality")


def test_info_exits_2_when_nothing_loads_and_0_when_some_files_fail(tmp_path, capsys):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.dcm").write_bytes(b"\x08\x00" + b"\xff" * 200)
    assert main(["info", str(tmp_path / "junk")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "a.dcm" in err[0]
    paths = write_ct_series(tmp_path / "ct", phantom_hu(6, 32, 32))
    paths[2].write_bytes(paths[2].read_bytes()[:300])
    assert main(["info", str(tmp_path / "ct")]) == 0
    out = capsys.readouterr()
    assert out.err == "" and paths[2].name in out.out
