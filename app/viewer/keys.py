"""Every viewer shortcut as data, in one place: the main window builds its QActions from this table,
menus show the keys, and the F1 cheat sheet lists it. Mouse gestures are listed too (not bindable).

Keys are QKeySequence strings; `action` names are stable ids the window maps to handlers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    key: str  # QKeySequence text, e.g. "Ctrl+O", "PgUp", "1"
    action: str  # stable id, e.g. "preset.brain"
    description: str
    group: str
    menu: str | None = None  # menu the action lives in (None: window-level only)


PAGE_STEP = 10  # slices per PageUp/PageDown
CINE_FPS = 10
SLAB_STEP_MM = 5.0  # ] and [ change the slab thickness by this much
OBLIQUE_STEP_DEG = 5.0  # . and , tilt the oblique plane by this much

SHORTCUTS: tuple[Shortcut, ...] = (
    # File
    Shortcut("Ctrl+O", "file.open_folder", "Open a DICOM folder", "File", "File"),
    Shortcut("Ctrl+Shift+O", "file.open_file", "Open a file (DICOM or NIfTI)", "File", "File"),
    Shortcut("Ctrl+D", "file.open_demo", "Open the bundled demo head CT", "File", "File"),
    Shortcut("Ctrl+Shift+S", "file.save_screenshot", "Save a screenshot of the window (PNG)", "File", "File"),
    Shortcut("Ctrl+Shift+E", "file.export_sc", "Export the active view as a DICOM secondary capture (and a PNG beside it)",
             "File", "File"),
    Shortcut("Ctrl+Down", "series.next", "Open the next series of the study (series browser)", "File", "File"),
    Shortcut("Ctrl+Up", "series.prev", "Open the previous series of the study", "File", "File"),
    Shortcut("Ctrl+Q", "file.quit", "Quit", "File", "File"),
    # Navigation
    Shortcut("Up", "slice.next", "Next slice (superior / anterior / right)", "Navigation", "Navigate"),
    Shortcut("Down", "slice.prev", "Previous slice", "Navigation", "Navigate"),
    Shortcut("Right", "slice.next_alt", "Next slice", "Navigation", None),
    Shortcut("Left", "slice.prev_alt", "Previous slice", "Navigation", None),
    Shortcut("PgUp", "slice.page_up", f"Forward {PAGE_STEP} slices", "Navigation", "Navigate"),
    Shortcut("PgDown", "slice.page_down", f"Back {PAGE_STEP} slices", "Navigation", "Navigate"),
    Shortcut("Home", "slice.first", "First slice", "Navigation", "Navigate"),
    Shortcut("End", "slice.last", "Last slice", "Navigation", "Navigate"),
    Shortcut("Space", "cine.toggle", f"Cine: play / stop ({CINE_FPS} slices/s, loops)", "Navigation", "Navigate"),
    Shortcut("Tab", "view.next_active", "Make the next 2-D view active (keys scroll it)", "Navigation", "Navigate"),
    # View
    Shortcut("L", "layout.toggle", "Layout: 1x1 (active view) / 2x2 (axial, coronal, sagittal, 3D)", "View", "View"),
    Shortcut("F", "view.fit", "Fit the image to the window (all views)", "View", "View"),
    Shortcut("+", "view.zoom_in", "Zoom in (active view)", "View", "View"),
    Shortcut("-", "view.zoom_out", "Zoom out (active view)", "View", "View"),
    Shortcut("X", "view.crosshair", "Show / hide the crosshair", "View", "View"),
    Shortcut("T", "view.info", "Show / hide the corner text", "View", "View"),
    Shortcut("Shift+T", "view.anonymise", "Anonymised corner text: hide the patient lines (reader studies, screenshots)",
             "View", "View"),
    Shortcut("I", "view.tags", "Tag viewer: the DICOM header of the current slice (NIfTI: header fields), searchable",
             "View", "View"),
    Shortcut("B", "view.browser", "Show / hide the series browser (thumbnails of the study's series)", "View", "View"),
    Shortcut("N", "mpr.interp", "Through-slice interpolation: linear / nearest neighbour", "View", "View"),
    Shortcut("S", "mpr.slab", "Thick slab: off / MIP / MinIP / average", "View", "View"),
    Shortcut("]", "mpr.thicker", f"Slab {SLAB_STEP_MM:g} mm thicker", "View", "View"),
    Shortcut("[", "mpr.thinner", f"Slab {SLAB_STEP_MM:g} mm thinner", "View", "View"),
    Shortcut("Shift+O", "view.oblique", "Show / hide the oblique view (the axial plane through the crosshair, tilted)",
             "View", "View"),
    Shortcut(".", "oblique.up", f"Oblique plane: tilt {OBLIQUE_STEP_DEG:g} degrees more (front up)", "View", "View"),
    Shortcut(",", "oblique.down", f"Oblique plane: tilt {OBLIQUE_STEP_DEG:g} degrees less", "View", "View"),
    Shortcut("M", "tool.measure", "Ruler: drag with the left button to measure in mm (M again: off)", "Tools", "Tools"),
    Shortcut("E", "tool.ellipse", "Ellipse ROI: drag; HU mean / SD / min / max and area in mm\u00b2", "Tools", "Tools"),
    Shortcut("D", "tool.freehand", "Freehand ROI: draw the outline with the left button held", "Tools", "Tools"),
    Shortcut("K", "tool.angle", "Angle: click three points (the middle one is the vertex)", "Tools", "Tools"),
    Shortcut("Del", "tool.delete", "Delete the newest measurement on the active view's slice", "Tools", "Tools"),
    Shortcut("Ctrl+E", "tool.export_csv", "Export the series' measurements as CSV", "Tools", "Tools"),
    Shortcut("Esc", "tool.clear", "Leave the measuring tool (measurements stay)", "Tools", "Tools"),
    # Windows
    Shortcut("1", "preset.brain", "Window: brain (W 80 / L 40)", "Window", "Window"),
    Shortcut("2", "preset.subdural", "Window: subdural (W 200 / L 80)", "Window", "Window"),
    Shortcut("3", "preset.soft_tissue", "Window: soft tissue (W 380 / L 40)", "Window", "Window"),
    Shortcut("4", "preset.bone", "Window: bone (W 2800 / L 600)", "Window", "Window"),
    Shortcut("5", "preset.stroke", "Window: stroke (W 40 / L 40)", "Window", "Window"),
    Shortcut("6", "preset.acute_blood", "Window: acute blood (W 220 / L 95)", "Window", "Window"),
    Shortcut("0", "preset.dicom", "Window: the file's own (DICOM), auto when it has none", "Window", "Window"),
    Shortcut("A", "preset.auto", "Window: auto (1st-99th percentile of the volume)", "Window", "Window"),
    # 3-D view
    Shortcut("Alt+1", "view3d.bone", "3-D rendering preset: bone", "View", "View"),
    Shortcut("Alt+2", "view3d.skin", "3-D rendering preset: skin", "View", "View"),
    Shortcut("Alt+3", "view3d.brain", "3-D rendering preset: brain", "View", "View"),
    # AI
    Shortcut("O", "overlay.toggle", "Show / hide the heat-map overlay", "AI", "AI"),
    Shortcut("G", "overlay.gradcam", "Grad-CAM overlay of the selected label", "AI", "AI"),
    Shortcut("Shift+C", "overlay.occlusion", "Occlusion map of the current slice (on demand)", "AI", "AI"),
    Shortcut("Ctrl+R", "findings.run", "Run the AI models on this series", "AI", "AI"),
    Shortcut("J", "findings.peak", "Go to the image where the chosen finding is most likely (series model)", "AI", "AI"),
    Shortcut("Shift+J", "findings.cnn_peak", "Go to the image where the single-slice CNN gives the chosen finding its "
             "highest probability", "AI", "AI"),
    # Help
    Shortcut("F1", "help.shortcuts", "This list of keys", "Help", "Help"),
)

MOUSE: tuple[tuple[str, str], ...] = (
    ("Wheel", "Scroll slices"),
    ("Ctrl+Wheel", "Zoom"),
    ("Left drag", "Pan"),
    ("Middle drag", "Pan"),
    ("Right drag", "Window: horizontal = width, vertical = level"),
    ("Shift+Left click / drag", "Move the crosshair (the other views follow)"),
    ("M, then Left drag", "Ruler in mm"),
    ("E / D, then Left drag", "Ellipse / freehand ROI with statistics"),
    ("K, then three Left clicks", "Angle in degrees"),
    ("Click a series in the browser, or drag it into a view", "Open that series (Up/Down in the browser too)"),
    ("Double click", "Make the view active; in 2x2, show it alone (1x1)"),
    ("Drop a file or folder", "Open it"),
)


# The reading window (app/study/window.py): an unaided read from the keyboard alone.
READ_ROW_KEYS = "QWERTYUIO"  # one key per finding row, in the study's label order
READ_SCORE_KEYS = "ZXCVB"  # confidence 1-5 (a probability study: 0, 25, 50, 75, 100)
READ_PROBABILITIES = (0, 25, 50, 75, 100)
READING_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Q", "read.row", "Choose a finding row: Q first, W second, E, R, T, Y, U, I, O (label order)", "Answer"),
    Shortcut("P", "read.present", "Present (chosen finding)", "Answer"),
    Shortcut("A", "read.absent", "Absent (chosen finding)", "Answer"),
    Shortcut("Z", "read.score", "Confidence 1 (Z) to 5 (B): Z X C V B; a probability study: 0 25 50 75 100 per cent; "
             "then the next finding is chosen", "Answer"),
    Shortcut("Return", "read.save", "Save the read (once every finding is answered); pressed again: next case", "Answer"),
    Shortcut("Ctrl+S", "read.save_button", "Save the read", "Answer"),
    Shortcut("Ctrl+N", "read.next", "Next case (after saving)", "Answer"),
    Shortcut("Up", "read.slice_up", "Next slice of the active view (also PgUp)", "Image"),
    Shortcut("Down", "read.slice_down", "Previous slice (also PgDown)", "Image"),
    Shortcut("N", "read.next_view", "Make the next view active (axial, coronal, sagittal)", "Image"),
    Shortcut("L", "read.layout", "Layout: axial only / axial, coronal and sagittal", "Image"),
    Shortcut("1", "read.preset", "Window presets 1-6: brain, subdural, soft tissue, bone, stroke, acute blood", "Image"),
    Shortcut("S", "read.slab", "Thick slab MIP 10 mm on / off", "Image"),
    Shortcut("F1", "read.help", "This list of keys", "Help"),
)


def by_action() -> dict[str, Shortcut]:
    return {s.action: s for s in SHORTCUTS}


def check_unique(table: tuple[Shortcut, ...] = SHORTCUTS) -> None:
    """Two actions on one key would make Qt fire neither ('ambiguous shortcut')."""
    seen: dict[str, str] = {}
    if table is READING_SHORTCUTS:  # the row and score keys are listed once but all bound
        table = table + tuple(Shortcut(k, f"read.row.{k}", "", "") for k in READ_ROW_KEYS[1:]) + tuple(
            Shortcut(k, f"read.score.{k}", "", "") for k in READ_SCORE_KEYS[1:])
    for s in table:
        k = s.key.lower()
        if k in seen:
            raise ValueError(f"key {s.key} bound twice: {seen[k]} and {s.action}")
        seen[k] = s.action


def markdown() -> str:
    """The keys as a Markdown table (docs/viewer_keys.md is generated with `python -m app.viewer.keys`)."""
    rows = ["| group | key | what it does |", "|---|---|---|"]  # the viewer
    rows += [f"| {s.group} | `{s.key}` | {s.description} |" for s in SHORTCUTS]
    rows += [f"| Mouse | {k} | {d} |" for k, d in MOUSE]
    read = ["| group | key | what it does |", "|---|---|---|"]
    read += [f"| {s.group} | `{s.key}` | {s.description} |" for s in READING_SHORTCUTS]
    return ("# Viewer keys\n\nGenerated from `app/viewer/keys.py` (the table the menus and the F1 sheet use).\n\n"
            + "\n".join(rows) + "\n\n## Reading window (`neuroreview study read`)\n\nAn unaided read needs no mouse: "
            "choose a finding with its row key, answer P or A, give the confidence (Z-B), and Enter saves.\n\n"
            + "\n".join(read) + "\n")


if __name__ == "__main__":
    print(markdown(), end="")
