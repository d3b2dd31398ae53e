"""The QC HTML report: thumbnails as separate lazily loaded files (the page stays small however big the
batch), click-to-enlarge, and a glossary of every score and measure behind a flag with its normal range."""

from __future__ import annotations

import csv
import re

from core.io import load
from core.paths import demo_dir
from core.qc.engine import COLUMNS, thumb_name
from core.qc.measures import NORMAL
from core.qc.report import GLOSSARY, write_report
from core.qc.thumbs import mosaic, png_bytes


def _results(tmp_path, n: int):
    """A results CSV of n rows (the demo strip's real thumbnail for each) as `neuroreview qc` writes it."""
    res = tmp_path / "res.csv"
    thumbs = tmp_path / "res.csv.thumbs"
    thumbs.mkdir()
    png = png_bytes(mosaic(load(str(demo_dir() / "mri" / "face_kept.nii.gz"))))
    with open(res, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for i in range(n):
            path = f"/data/batch/sub{i:04d}.nii.gz"
            (thumbs / thumb_name(path)).write_bytes(png)
            w.writerow({c: "" for c in COLUMNS} | dict(path=path, status="ok", verdict="face kept" if i % 3 == 0 else "pass",
                                                      p_face="0.9" if i % 3 == 0 else "0.1", p_brain_loss="0.05",
                                                      kept_ml="2900", outside_normal="kept_ml=2900.00 (normal 1000-2100)"))
    return res, len(png)


def test_thumbnails_are_separate_lazy_files_and_the_page_stays_small(tmp_path):
    res, png_size = _results(tmp_path, 300)
    page = write_report(res, tmp_path / "out" / "qc.html")
    text = page.read_text(encoding="utf-8")
    files = list((tmp_path / "out" / "qc_thumbs").glob("*.png"))
    assert len(files) == 300 and "base64" not in text
    srcs = re.findall(r"<img class='thumb'[^>]*loading='lazy' src='(qc_thumbs/[0-9a-f]+\.png)'", text)
    assert len(srcs) == 300 and all((tmp_path / "out" / s).is_file() for s in srcs)
    assert page.stat().st_size < 300 * 700 < 300 * png_size  # under a kilobyte per row, not one image each
    assert text.count("onclick='enlarge(this)'") == 300 and "id='big'" in text and "function enlarge" in text


def test_glossary_explains_every_score_and_measure_with_its_range(tmp_path):
    res, _ = _results(tmp_path, 2)
    text = write_report(res, tmp_path / "qc.html").read_text(encoding="utf-8")
    assert "href='#glossary'" in text and "id='glossary'" in text
    gloss = text[text.index("id='glossary'"):]
    for name in list(GLOSSARY) + list(NORMAL):
        assert f"<dt id='g-{name}'>{name}</dt>" in gloss or f"<dt>{name}</dt>" in gloss, name
    lo, hi = NORMAL["kept_ml"]
    assert f"Normal range on good strips: {lo:g} to {hi:g}." in gloss
    for verdict in ("face kept", "brain cut", "not skull-stripped", "unreadable"):
        assert f"<dt>{verdict}</dt>" in gloss
