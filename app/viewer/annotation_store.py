"""Measurements kept per series in a small SQLite database under the user data folder (NEUROREVIEW_HOME),
so they are there again when the series is reopened. Each change is written at once (nothing is lost when
the window closes). Keyed by SeriesInstanceUID (the NIfTI file path for NIfTI volumes) and the volume shape,
so a different resampling of the same series does not get misplaced marks. No patient identifiers stored.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, create_engine, delete, insert, select

from app.viewer.measure import Annotation
from core.paths import user_data_dir

_meta = MetaData()
annotations = Table(
    "viewer_annotations", _meta,
    Column("id", String(32), primary_key=True),
    Column("series_key", String(512), nullable=False, index=True),
    Column("shape", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("plane", String(16), nullable=False),
    Column("slice_index", Integer, nullable=False),
    Column("label", String(16), nullable=False),
    Column("points", Text, nullable=False),  # JSON [[x_mm, y_mm], ...]
    Column("stats", Text, nullable=False),  # JSON
    Column("created", Float, nullable=False),
)


def series_key(volume) -> str:
    return volume.ids.series_uid or str(Path(volume.ids.source).resolve())


class AnnotationStore:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else user_data_dir() / "viewer.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(f"sqlite:///{self.path}", future=True)
        _meta.create_all(self.engine)

    def load(self, volume) -> list[Annotation]:
        key, shape = series_key(volume), "x".join(map(str, volume.shape))
        with self.engine.connect() as conn:
            rows = conn.execute(select(annotations).where(annotations.c.series_key == key, annotations.c.shape == shape)
                                .order_by(annotations.c.created)).mappings().all()
        return [Annotation(r["kind"], r["plane"], r["slice_index"], tuple(tuple(p) for p in json.loads(r["points"])),
                           r["label"], json.loads(r["stats"]), r["id"]) for r in rows]

    def add(self, volume, a: Annotation) -> None:
        import time

        with self.engine.begin() as conn:
            conn.execute(insert(annotations).values(
                id=a.id, series_key=series_key(volume), shape="x".join(map(str, volume.shape)), kind=a.kind, plane=a.plane,
                slice_index=a.index, label=a.label, points=json.dumps(a.points), stats=json.dumps(a.stats), created=time.time()))

    def remove(self, ann_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(annotations).where(annotations.c.id == ann_id))

    def sync(self, volume, current: list[Annotation]) -> None:
        """Make the stored set of this series equal to `current` (adds new ones, removes deleted ones)."""
        stored = {a.id for a in self.load(volume)}
        now = {a.id for a in current}
        for a in current:
            if a.id not in stored:
                self.add(volume, a)
        for ann_id in stored - now:
            self.remove(ann_id)

    def close(self) -> None:
        self.engine.dispose()
