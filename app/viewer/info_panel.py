"""Series information dock: what was loaded (geometry, source, window) and every loader warning, plus
the skull-strip QC scores for an MRI when they are in `state.qc`."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser

from app.viewer.state import ViewerState


class InfoPanel(QTextBrowser):
    def __init__(self, state: ViewerState, parent=None) -> None:
        super().__init__(parent)
        self.state = state
        self.setOpenLinks(False)
        self.setMinimumWidth(240)
        state.volumeChanged.connect(self.refresh)
        state.findingsChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        vol = self.state.volume
        if vol is None:
            self.setHtml("<i>No series loaded.</i> Open a DICOM folder (Ctrl+O), a file (Ctrl+Shift+O), "
                         "drop one here, or open the demo case (Ctrl+D).")
            return
        e = html.escape
        nz, ny, nx = vol.shape
        dz, dy, dx = vol.spacing
        ids = vol.ids
        rows = [
            ("modality", vol.modality),
            ("series", ids.series_description or ids.series_uid or "-"),
            ("source", ids.source or "-"),
            ("voxels", f"{nz} x {ny} x {nx} (slices x rows x cols)"),
            ("spacing", f"{dz:.3g} x {dy:.3g} x {dx:.3g} mm"),
            ("orientation", "".join(vol.axcodes) + " (canonical)"),
            ("file window", f"W {vol.window.width:.0f} / L {vol.window.level:.0f}" if vol.window else "none (0 = auto)"),
        ]
        out = ["<table cellspacing='2'>"] + [f"<tr><td><b>{e(k)}</b></td><td>{e(str(v))}</td></tr>" for k, v in rows] + ["</table>"]
        if vol.warnings:
            out.append(f"<p><b style='color:#c77700'>{len(vol.warnings)} loader warning(s)</b></p><ul>")
            out += [f"<li><b>{e(w.code.value)}</b>: {e(w.message)}{(' [' + e(w.path) + ']') if w.path else ''}</li>"
                    for w in vol.warnings]
            out.append("</ul>")
        else:
            out.append("<p>No loader warnings.</p>")
        qc = self.state.qc
        if qc is not None:
            m = qc.model
            out.append("<p><b>Skull-strip QC</b> "
                       f"({e(m.name)} {e(m.version)}, {e(m.provider)})</p><table cellspacing='2'>"
                       f"<tr><td>P(face kept)</td><td>{qc.p_face:.3f}{' <b>flag</b>' if qc.flags['face'] else ''}</td></tr>"
                       f"<tr><td>P(brain lost)</td><td>{qc.p_brain_loss:.3f}{' <b>flag</b>' if qc.flags['brain_loss'] else ''}</td></tr>"
                       f"<tr><td>verdict</td><td><b>{e(qc.verdict)}</b></td></tr></table>")
        self.setHtml("".join(out))
