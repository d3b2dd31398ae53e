"""Self-contained HTML report of a QC results CSV: flagged files first, sortable columns (a few
lines of inline JavaScript), thumbnails embedded as base64 PNG, no external files or network."""

from __future__ import annotations

import base64
import csv
import html
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
.note{color:#555;font-size:90%;max-width:260px}img{display:block}td.err{max-width:260px;font-size:90%}"""


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
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>Skull-strip QC report</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
           "<h1>Skull-strip QC report</h1>",
           f"<p>{len(rows)} files: <b>{n_flag} flagged</b>, {n_err} unreadable, {len(rows) - n_flag - n_err} pass. Model {html.escape(model)}. "
           "Flagged first; click a column heading to sort. Yellow outline: what the strip kept.</p>",
           "<p class='note'>Research use only, not for clinical use: the model was trained on strips of a few real heads.</p>",
           "<table id='qc'><thead><tr>" + "".join(f"<th onclick='sortBy({i})'>{h}</th>" for i, h in enumerate(heads)) + "</tr></thead><tbody>"]
    for r in rows:
        img = ""
        t = thumbs / thumb_name(r["path"])
        if r["status"] == "ok" and t.exists():
            img = f"<img alt='thumbnail' height='96' src='data:image/png;base64,{base64.b64encode(t.read_bytes()).decode()}'>"
        verdict = r["verdict"] if r["status"] == "ok" else "unreadable: " + html.escape(r["error"])
        out.append(f"<tr class='{_cls(r)}'><td>{html.escape(r['path'])}</td><td class='err' data-v='{_ORDER.get(r['verdict'], -1) if r['status'] == 'ok' else -1}'>{verdict}</td>"
                   f"<td>{r['p_face']}</td><td>{r['p_brain_loss']}</td><td>{r.get('p_not_stripped', '')}</td><td>{r['kept_ml']}</td>"
                   f"<td class='note'>{html.escape(r.get('explanation') or r['outside_normal'])}</td><td>{img}</td></tr>")
    out.append("</tbody></table></body></html>")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text("\n".join(out), encoding="utf-8")
    return out_html
