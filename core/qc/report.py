"""HTML report of a QC results CSV: flagged files first, sortable columns (a few lines of inline JavaScript),
a glossary of every measure and score behind a flag (what it measures, its normal range, why it flags),
thumbnails as separate PNG files in `<report>_thumbs/` beside the page, loaded lazily and enlarged on
click. Nothing comes from the network. Why separate files: a 1,000-volume batch embedded as base64 made
an 80 MB page that browsers struggle to open; now the page stays small and images load as scrolled to."""

from __future__ import annotations

import csv
import html
import shutil
from pathlib import Path

from core.qc.engine import thumb_name

_ORDER = {"not skull-stripped": 0, "both": 0, "face kept": 1, "brain cut": 2, "not scorable": 3, "": 3, "pass": 4}

_JS = """
function sortBy(col){const t=document.getElementById('qc');const rows=[...t.tBodies[0].rows];
const asc=t.dataset.col==col?t.dataset.asc!='1':true;t.dataset.col=col;t.dataset.asc=asc?'1':'0';
rows.sort((a,b)=>{let x=a.cells[col].dataset.v??a.cells[col].innerText,y=b.cells[col].dataset.v??b.cells[col].innerText;
const nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){x=nx;y=ny;}return (x>y?1:x<y?-1:0)*(asc?1:-1);});
rows.forEach(r=>t.tBodies[0].appendChild(r));}
"""

_CSS = """body{font-family:sans-serif;margin:16px;background:#fafafa}table{border-collapse:collapse}
th{cursor:pointer;background:#333;color:#fff;padding:4px 8px;position:sticky;top:0}td{padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:middle}
tr.both td,tr.face td{background:#fde8e8}tr.brain td{background:#fff4dc}tr.error td{background:#eee;color:#a00}
.note{color:#555;font-size:90%;max-width:260px}td.note{min-width:230px}img{display:block}td.err{max-width:260px;font-size:90%}
img.thumb{cursor:zoom-in}#big{display:none;position:fixed;inset:0;background:rgba(0,0,0,.93);z-index:1000;cursor:zoom-out;
align-items:center;justify-content:center}#big img{width:min(96vw,2200px);image-rendering:auto}
dl.gloss{max-width:1100px}dl.gloss dt{font-weight:700;margin-top:8px}dl.gloss dd{margin:2px 0 0 18px;color:#333}"""

_JS_BIG = """
function enlarge(img){const b=document.getElementById('big');b.firstChild.src=img.src;b.style.display='flex';}
document.addEventListener('keydown',e=>{if(e.key==='Escape')document.getElementById('big').style.display='none';});
"""

# What each score and measure behind a flag means; the normal ranges come from core.qc.measures.NORMAL.
GLOSSARY = {
    "P(face)": "the probability that recognizable facial features (nose, eyes, lips) were kept: the CNN's score "
               "combined with the measures below by the model card's logistic stack. Flags 'face kept' at the card's threshold.",
    "P(brain loss)": "the probability that brain tissue was cut away (a sheared cap, a cut lobe, a too-tight "
                     "mask), CNN and measures combined as for P(face). Flags 'brain cut'.",
    "P(not stripped)": "the probability that the file is a whole head, not a skull strip. Flags 'not skull-stripped'.",
    "kept_ml": "tissue volume the strip kept, in ml. Much more than a brain means skull, scalp or face were kept; "
               "much less means brain was cut away.",
    "anterior_mm": "how far the kept tissue reaches in front of its own centre, in mm. A kept face reaches far forward.",
    "inferior_ai_ml": "ml of tissue in front of (> 40 mm) and below (> 10 mm) the centre: where the face lies. "
                      "Small for a good strip.",
    "boundary_bright": "mean intensity on the outer surface of the kept tissue divided by its median. A good strip "
                       "ends in dark CSF; a cut through brain leaves bright tissue on its edge.",
    "flat_top": "fraction of the top surface lying in one axial plane: a cap cut off by a plane.",
    "cut_plane": "the largest fraction of the top, front, back, left or right surface lying in one plane: a cut in "
                 "any direction.",
    "background_zero": "fraction of the voxels outside the tissue that are exactly 0. Stripping tools write 0 there; "
                       "a scanner image has noise, so a low value hints at a file that was never stripped.",
    "face_ml": "ml of tissue 80-160 mm below the top of the head and less than 40 mm behind the forehead: the nose, "
               "eyes, cheeks and lips when the face was kept.",
    "face_forward_mm": "how far the tissue 70-160 mm below the top reaches past the forehead, in mm: the nose sticks out, "
                       "a brain or a defaced head stays behind.",
    "below_ml": "ml of tissue more than 110 mm below the top of the head (face, skull base, neck).",
    "height_mm": "height of the kept tissue (1st to 99th percentile), in mm; a cap cut off makes it low for the width.",
    "length_mm": "front-to-back length of the kept tissue, in mm; a frontal cut makes it short for the width.",
    "width_mm": "left-to-right width of the kept tissue, in mm (rarely cut: the yardstick for height, length and volume).",
    "plane_frac": "the largest fraction of the outer surface lying within 4 mm of one tangent plane, in any direction "
                  "(top, bottom, front, back, sides, oblique): the flat disc a cut leaves. A whole brain touches a plane "
                  "only in a small patch.",
    "plane_lost_pct": "the brain volume, in %, that the flat disc implies was cut off (a spherical cap of the kept volume's "
                      "size on that disc). Independent of the head's size.",
    "rim_rel": "median intensity 2-4 mm inside the strip's edge divided by the tissue's median. A good strip ends in "
               "dark CSF (low); one eroded into the brain or cut through it ends in grey or white matter (near 1).",
    "rim_dark": "fraction of that rim darker than half the tissue median (CSF, dura): high for a good strip.",
    "rim_bright": "fraction of the rim 2-4 mm inside the strip's edge brighter than 0.8 x the tissue median (grey or "
                  "white matter, not CSF): a good strip ends in CSF, one eroded into the brain in brain tissue.",
    "dark_frac": "fraction of the strip darker than half the tissue median (outer and sulcal CSF, which a too-tight "
                 "strip loses first).",
}
VERDICTS = {"pass": "no flag raised.", "face kept": "P(face) at or above its threshold.",
            "brain cut": "P(brain loss) at or above its threshold.", "both": "face kept and brain cut.",
            "not skull-stripped": "P(not stripped) at or above its threshold: a whole head.",
            "not scorable": "the file is outside what the model was trained on (see the reason); no verdict.",
            "unreadable": "the file could not be loaded (the reason is given)."}


def glossary_html() -> str:
    from core.qc.measures import NORMAL

    items = []
    for name, text in GLOSSARY.items():
        rng = f" Normal range on good strips: {NORMAL[name][0]:g} to {NORMAL[name][1]:g}." if name in NORMAL else ""
        items.append(f"<dt id='g-{html.escape(name)}'>{html.escape(name)}</dt><dd>{html.escape(text)}{rng}</dd>")
    for name in NORMAL:  # a measure added later still gets its range, never a silent gap
        if name not in GLOSSARY:
            items.append(f"<dt>{html.escape(name)}</dt><dd>normal range {NORMAL[name][0]:g} to {NORMAL[name][1]:g}</dd>")
    verdicts = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in VERDICTS.items())
    return (f"<h2 id='glossary'>Glossary</h2><h3>Scores and measures</h3><dl class='gloss'>{''.join(items)}</dl>"
            f"<h3>Verdicts</h3><dl class='gloss'>{verdicts}</dl>")


def _cls(row: dict) -> str:
    if row["status"] == "error":
        return "error"
    return {"both": "both", "face kept": "face", "not skull-stripped": "face", "brain cut": "brain",
            "not scorable": "error"}.get(row["verdict"], "pass")


def write_report(results_csv: str | Path, out_html: str | Path) -> Path:
    results_csv, out_html = Path(results_csv), Path(out_html)
    with open(results_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    thumbs = results_csv.with_name(results_csv.name + ".thumbs")
    rows.sort(key=lambda r: (_ORDER.get(r["verdict"], 3) if r["status"] == "ok" else -1,
                             -max(float(r["p_face"] or 0), float(r["p_brain_loss"] or 0)), r["path"]))
    n_flag = sum(r["verdict"] in ("both", "face kept", "brain cut", "not skull-stripped") for r in rows)
    n_err = sum(r["status"] == "error" for r in rows)
    model = next((r["model"] for r in rows if r["model"]), "")
    heads = ["file", "verdict", "P(face)", "P(brain loss)", "P(not stripped)", "kept ml", "why (measures)", "thumbnail (axial x3, coronal, sagittal, front view)"]
    img_dir = out_html.with_name(out_html.stem + "_thumbs")
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>Skull-strip QC report</title><style>{_CSS}</style><script>{_JS}{_JS_BIG}</script></head><body>",
           "<h1>Skull-strip QC report</h1>",
           f"<p>{len(rows)} files: <b>{n_flag} flagged</b>, {n_err} unreadable, {len(rows) - n_flag - n_err} pass. Model {html.escape(model)}. "
           "Flagged first; click a column heading to sort, a thumbnail to enlarge it. Yellow outline: what the strip "
           "kept. What each score and measure means: <a href='#glossary'>glossary</a>.</p>",
           "<p class='note'>Research use only, not for clinical use: the model was trained on strips of a few real heads.</p>",
           "<table id='qc'><thead><tr>" + "".join(f"<th onclick='sortBy({i})'>{h}</th>" for i, h in enumerate(heads)) + "</tr></thead><tbody>"]
    for r in rows:
        img = ""
        t = thumbs / thumb_name(r["path"])
        if r["status"] == "ok" and t.exists():
            img_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(t, img_dir / t.name)
            src = html.escape(f"{img_dir.name}/{t.name}")
            img = (f"<img class='thumb' alt='thumbnail' height='96' loading='lazy' src='{src}' "
                   f"title='click to enlarge' onclick='enlarge(this)'>")
        verdict = r["verdict"] if r["status"] == "ok" else "unreadable: " + html.escape(r["error"])
        out.append(f"<tr class='{_cls(r)}'><td>{html.escape(r['path'])}</td><td class='err' data-v='{_ORDER.get(r['verdict'], -1) if r['status'] == 'ok' else -1}'>{verdict}</td>"
                   f"<td>{r['p_face']}</td><td>{r['p_brain_loss']}</td><td>{r.get('p_not_stripped', '')}</td><td>{r['kept_ml']}</td>"
                   f"<td class='note'>{html.escape(r.get('explanation') or r['outside_normal'])}</td><td>{img}</td></tr>")
    out.append("</tbody></table>")
    out.append(glossary_html())
    out.append("<div id='big' onclick=\"this.style.display='none'\"><img alt='enlarged thumbnail'></div></body></html>")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text("\n".join(out), encoding="utf-8")
    return out_html
