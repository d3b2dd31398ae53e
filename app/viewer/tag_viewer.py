"""Tag viewer (key I): the DICOM header of the current slice's source file as a searchable tree with
sequences expandable, or a NIfTI file's header fields. Pixel data is never read."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

MAX_VALUE_CHARS = 200


def _value_text(elem) -> str:
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "UN") and not isinstance(elem.value, str):
        n = len(elem.value) if elem.value is not None else 0
        return f"<{n} bytes>"
    text = str(elem.value)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + " ..."


def _add_dataset(parent, ds) -> None:
    for elem in ds:
        tag = f"({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "SQ":
            item = QTreeWidgetItem(parent, [tag, elem.name, "SQ", f"{len(elem.value)} item(s)"])
            for k, sub in enumerate(elem.value, 1):
                child = QTreeWidgetItem(item, ["", f"Item {k}", "", ""])
                _add_dataset(child, sub)
        else:
            QTreeWidgetItem(parent, [tag, elem.name, elem.VR, _value_text(elem)])


class TagViewer(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Header")
        self.resize(760, 640)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("search tag, name or value (e.g. 0018,0050 or kernel)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["tag", "name", "VR", "value"])
        self.tree.setUniformRowHeights(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.title)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)

    def show_volume(self, volume, z: int) -> None:
        """Fill from the file of slice z (DICOM) or the NIfTI header."""
        from app.viewer import header_facts

        self.tree.clear()
        if volume is None:
            self.title.setText("No series loaded.")
            return
        ds = header_facts.slice_dataset(volume, z)
        if ds is not None:
            k = int(header_facts.slice_files(volume)[z])
            self.title.setText(f"DICOM header of image {z + 1} of {volume.shape[0]}: {volume.ids.files[k]}")
            _add_dataset(self.tree.invisibleRootItem(), ds)
        else:
            self.title.setText(f"NIfTI header: {volume.ids.source}")
            for key, value in header_facts.nifti_header_fields(volume):
                QTreeWidgetItem(self.tree, ["", key, "", value])
        for col in range(3):
            self.tree.resizeColumnToContents(col)
        self.apply_filter(self.search.text())

    def apply_filter(self, text: str) -> int:
        """Hide rows that do not match (a matching row's parents stay visible, expanded); returns the matches."""
        needle = text.strip().lower().replace("(", "").replace(")", "")

        def visit(item) -> tuple[bool, int]:
            own = not needle or any(needle in item.text(c).lower().replace("(", "").replace(")", "") for c in range(4))
            n = int(bool(needle) and own)
            child_hit = False
            for i in range(item.childCount()):
                hit, m = visit(item.child(i))
                child_hit |= hit
                n += m
            item.setHidden(not (own or child_hit))
            if needle and child_hit:
                item.setExpanded(True)
            return own or child_hit, n

        root = self.tree.invisibleRootItem()
        total = 0
        for i in range(root.childCount()):
            total += visit(root.child(i))[1]
        return total

    def visible_rows(self) -> list[tuple[str, str, str]]:
        """(tag, name, value) of the rows not hidden, depth-first (tests and scripts)."""
        out = []

        def walk(item) -> None:
            for i in range(item.childCount()):
                c = item.child(i)
                if not c.isHidden():
                    out.append((c.text(0), c.text(1), c.text(3)))
                    walk(c)

        walk(self.tree.invisibleRootItem())
        return out
