"""A seeded corpus of hostile inputs (issue 17): broken scanners, bad exports and attackers, built from
generated DICOM and NIfTI (and the real GE head CT when ../shared/data is present).

Each `Case` says what the user opens and what an honest answer must contain: an error, or a warning
that names the bad file, or (for kinds that are harmless) only the contract (no traceback, no hang,
exit 0 or 2, one error line). Kinds listed in `SILENT` are the "silent wrong answer" class: exit 0 is
only acceptable with a warning naming the bad file.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.filebase import DicomBytesIO
from pydicom.tag import Tag
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

from tests.core.io.dicom_factory import phantom_hu, write_ct_series

pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

N_SLICES, SIZE, PIXEL_MM, SLICE_MM = 8, 64, 3.0, 5.0


@dataclass
class Case:
    kind: str
    seed: int
    target: Path  # what the user opens
    bad: str | None = None  # a file name the warning or error must mention (None: no particular file)
    expect: str = "any"  # "error": exit 2 naming `bad`; "warn": a warning or error naming `bad`; "any": contract only
    codes: tuple[str, ...] = ()  # with "warn": one of these warning codes must appear (exit 0)
    score: bool = False  # also run `neuroreview score`
    geometry: bool = False  # left/right must match the clean series, or not be reported

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.seed}"


def base_hu(seed: int = 0) -> np.ndarray:
    """The phantom head with a hyperdense blob in the left basal ganglia: laterality has a right answer."""
    hu = phantom_hu(N_SLICES, SIZE, SIZE, seed=seed).astype(np.int16)
    z, y, x = N_SLICES // 2, SIZE // 2, int(SIZE * 0.36)  # canonical x runs to patient Right: low x is Left
    hu[z - 2:z + 2, y - 5:y + 5, x - 5:x + 5] = 70
    return hu


def write_base(folder: Path, seed: int = 0) -> list[Path]:
    return write_ct_series(folder, base_hu(seed), slice_mm=SLICE_MM, pixel_mm=PIXEL_MM)


def _edit(path: Path, fn: Callable[[pydicom.Dataset], None]) -> None:
    ds = pydicom.dcmread(path, force=True)  # the real GE files have no preamble
    part10 = "TransferSyntaxUID" in getattr(ds, "file_meta", {})
    fn(ds)
    ds.save_as(path, enforce_file_format=part10, implicit_vr=None if part10 else ds.original_encoding[0],
               little_endian=None if part10 else ds.original_encoding[1])


def _set(**tags) -> Callable[[pydicom.Dataset], None]:
    def fn(ds: pydicom.Dataset) -> None:
        for k, v in tags.items():
            if v is None:
                if k in ds:
                    delattr(ds, k)
            elif isinstance(v, int):
                setattr(ds, k, v)
            else:  # the raw bytes, so that pydicom writes what no validator would accept ("abc", "nan", 5 values)
                text = "\\".join(v) if isinstance(v, list) else str(v)
                raw = text.encode("latin-1")
                raw += b" " if len(raw) % 2 else b""
                tag = pydicom.datadict.tag_for_keyword(k)
                ds._dict[Tag(tag)] = RawDataElement(Tag(tag), pydicom.datadict.dictionary_VR(tag), len(raw), raw, 0, False, True)
    return fn


def _pixel_offset(data: bytes) -> int:
    k = data.rfind(b"\xe0\x7f\x10\x00")
    return k if k > 0 else len(data)


def _pick(rng: np.random.Generator, paths: list[Path], n: int) -> list[Path]:
    n = min(n, len(paths))
    return [paths[i] for i in sorted(rng.choice(len(paths), n, replace=False))]


# ---------------------------------------------------------------- DICOM tag corruptions
HOSTILE_NUMBERS = ["abc", "", "nan", "inf", "-inf", "0", "-1", "1e300", "1e-30", "1e30", "1\\2\\3\\4\\5\\6\\7"]
TAG_KINDS = {
    # tag: (values, expected when every slice has it, expected when one slice has it)
    "RescaleSlope": (["nan", "inf", "1e38", "abc", "0", "-1e300"], "silent"),
    "RescaleIntercept": (["nan", "-inf", "1e38", "abc", "1e30"], "silent"),
    "PixelSpacing": (["0\\0", "-0.5\\-0.5", "1e-30\\1e-30", "1e30\\1e30", "nan\\1", "1", "abc\\def"], "geometry"),
    "ImageOrientationPatient": (["0\\0\\0\\0\\0\\0", "1\\0\\0\\0\\1", "1\\0\\0\\0.5\\0.866\\0", "1\\0\\0\\1\\0\\0", "nan\\0\\0\\0\\1\\0",
                                 "1\\0\\0\\0\\0.9\\0", "-1\\0\\0\\0\\1\\0"], "geometry"),
    "ImagePositionPatient": (["0\\0", "nan\\0\\0", "0\\0\\1e300", "", "inf\\inf\\inf", "0\\0\\90000"], "geometry"),
    "GantryDetectorTilt": (["abc", "nan", "1e300"], "any"),
    "Rows": ([0, 65535, SIZE // 2, SIZE * 2], "error"),
    "Columns": ([0, 65535, SIZE // 2], "error"),
    "BitsAllocated": ([0, 7, 64, 12], "error"),
    "PixelRepresentation": ([2, 0], "any"),
    "SamplesPerPixel": ([0, 3, 9], "error"),
    "NumberOfFrames": (["0", "-1", "100000", "abc"], "any"),
    "InstanceNumber": (["abc", "-1", "99999999999"], "any"),
    "SeriesInstanceUID": (["", "x" * 64], "any"),
    "Modality": (["", "XX", "MR"], "any"),
}


def _tag_value(tag: str, value):
    if isinstance(value, int):
        return value
    parts = str(value).split("\\")
    return parts if len(parts) > 1 else parts[0]


def tag_case(tmp: Path, seed: int, tag: str, value, every: bool) -> Case:
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    victims = paths if every else _pick(rng, paths[1:-1], 1)
    for p in victims:
        _edit(p, _set(**{tag: _tag_value(tag, value)}))
    _, what = TAG_KINDS[tag]
    bad = victims[0].name
    if what == "silent":
        return Case(f"{tag}={value}-{'all' if every else 'one'}", seed, tmp / "ct", bad, "warn", score=True, geometry=True)
    if what == "geometry" and value == "-1\\0\\0\\0\\1\\0":  # valid DICOM (rows run to the patient's right): no warning due
        return Case(f"{tag}={value}-{'all' if every else 'one'}", seed, tmp / "ct", None, "any", score=True)
    if what == "geometry":
        return Case(f"{tag}={value}-{'all' if every else 'one'}", seed, tmp / "ct", bad, "warn", score=True, geometry=True)
    if what == "error":
        expect = "error" if every else "warn"
        return Case(f"{tag}={value}-{'all' if every else 'one'}", seed, tmp / "ct", bad, expect)
    return Case(f"{tag}={value}-{'all' if every else 'one'}", seed, tmp / "ct", None, "any", score=seed % 7 == 0)


# ---------------------------------------------------------------- byte-level corruptions
def truncate_case(tmp: Path, seed: int, every: bool) -> Case:
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    victims = paths if every else _pick(rng, paths, 1 + seed % 3)
    for p in victims:
        data = p.read_bytes()
        p.write_bytes(data[: int(rng.integers(1, len(data) - 1))])
    return Case(f"truncated-{'all' if every else len(victims)}", seed, tmp / "ct", victims[0].name, "error" if every else "warn")


def header_flip_case(tmp: Path, seed: int, n_bytes: int, n_files: int) -> Case:
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    for p in _pick(rng, paths, n_files):
        data = bytearray(p.read_bytes())
        end = _pixel_offset(bytes(data))
        for off in rng.integers(132, end, n_bytes):
            data[off] = int(rng.integers(0, 256))
        p.write_bytes(bytes(data))
    return Case(f"header-flip-{n_bytes}x{n_files}", seed, tmp / "ct", None, "any", score=seed % 5 == 0)


def pixel_flip_case(tmp: Path, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    for p in _pick(rng, paths, 3):
        data = bytearray(p.read_bytes())
        start = _pixel_offset(bytes(data)) + 12
        for off in rng.integers(start, len(data), 32):
            data[off] ^= 1 << int(rng.integers(0, 8))
        p.write_bytes(bytes(data))
    return Case("pixel-flip", seed, tmp / "ct", None, "any")


def rle_case(tmp: Path, seed: int, how: str) -> Case:
    """RLE slices with a broken stream: the native decoder may panic (a BaseException)."""
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    victims = _pick(rng, paths, 3)
    for p in paths:
        ds = pydicom.dcmread(p)
        ds.compress(RLELossless)
        if p in victims:
            frag = bytearray(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1).__next__())
            if how == "header":
                frag[4:64] = rng.integers(0, 256, 60, dtype=np.uint8).tobytes()
            elif how == "segments":
                frag[0:4] = struct.pack("<I", int(rng.integers(2, 16)))
            elif how == "cut":
                frag = frag[: int(rng.integers(64, len(frag)))]
            else:
                for off in rng.integers(64, len(frag), 64):
                    frag[off] = int(rng.integers(0, 256))
            ds.PixelData = pydicom.encaps.encapsulate([bytes(frag) + (b"\0" if len(frag) % 2 else b"")])
        ds.save_as(p, enforce_file_format=True)
    return Case(f"rle-{how}", seed, tmp / "ct", None, "any", score=how == "header")


def deflate_case(tmp: Path, seed: int) -> Case:
    """A Deflated transfer syntax announced on plain (not deflated) data."""
    paths = write_base(tmp / "ct", seed)
    victim = paths[seed % len(paths)]
    ds = pydicom.dcmread(victim)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
    victim.write_bytes(b"\0" * 128 + b"DICM" + meta.getvalue() + body.getvalue())
    return Case("deflate-on-plain", seed, tmp / "ct", victim.name, "warn")


# ---------------------------------------------------------------- series-level problems
def identity_case(tmp: Path, seed: int, what: str) -> Case:
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    victims = _pick(rng, paths, 1 + seed % 4)
    for p in victims:
        _edit(p, _set(**({"PatientID": "SOMEONE-ELSE"} if what == "patient" else {"StudyInstanceUID": pydicom.uid.generate_uid()})))
    return Case(f"mixed-{what}", seed, tmp / "ct", victims[0].name, "warn", ("mixed-identity",), score=True)


def duplicate_uid_case(tmp: Path, seed: int) -> Case:
    paths = write_base(tmp / "ct", seed)
    for p in paths:
        _edit(p, _set(SOPInstanceUID="1.2.3.4.5"))
    return Case("same-sop-uid", seed, tmp / "ct", None, "warn", ("duplicate-uid",))


def signed_as_unsigned_case(tmp: Path, seed: int, every: bool) -> Case:
    """Signed HU stored with intercept 0, then PixelRepresentation says unsigned: -1000 reads as 64536."""
    rng = np.random.default_rng(seed)
    paths = write_base(tmp / "ct", seed)
    victims = paths if every else _pick(rng, paths[1:-1], 1)
    for p in paths:
        ds = pydicom.dcmread(p)
        hu = ds.pixel_array.astype(np.int32) - 1024
        ds.RescaleIntercept = 0
        ds.PixelData = hu.astype(np.int16).tobytes()
        ds.PixelRepresentation = 0 if p in victims else 1
        ds.save_as(p, enforce_file_format=True)
    return Case(f"signed-as-unsigned-{'all' if every else 'one'}", seed, tmp / "ct", victims[0].name, "error" if every else "warn", score=True)


def extra_files_case(tmp: Path, seed: int, what: str) -> Case:
    rng = np.random.default_rng(seed)
    write_base(tmp / "ct", seed)
    bad = tmp / "ct" / f"zz_{what}.dcm"
    if what == "zeros-2GB":
        with open(bad, "wb") as fh:
            fh.truncate(2 * 1024**3)  # sparse: no disk used, but a forced parse would crawl through it
    elif what == "random":
        bad.write_bytes(rng.integers(0, 256, int(rng.integers(10, 5000)), dtype=np.uint8).tobytes())
    elif what == "empty":
        bad.write_bytes(b"")
    elif what == "raw-like":  # starts like a raw data set, then garbage
        bad.write_bytes(b"\x08\x00\x05\x00" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif what == "fifo":
        os.mkfifo(bad)
    elif what == "dicm-zeros":
        with open(bad, "wb") as fh:
            fh.write(b"\0" * 128 + b"DICM")
            fh.truncate(64 * 1024**2)
    return Case(f"extra-{what}", seed, tmp / "ct", bad.name if what not in ("fifo",) else None, "warn" if what != "fifo" else "any")


def lonely_file_case(tmp: Path, seed: int, what: str) -> Case:
    rng = np.random.default_rng(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    if what == "devnull":
        return Case("path-devnull", seed, Path("/dev/null"), "/dev/null", "error")
    if what == "empty-folder":
        (tmp / "empty").mkdir()
        return Case("empty-folder", seed, tmp / "empty", "empty", "error")
    path = tmp / "file.dcm"
    if what == "random":
        path.write_bytes(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    elif what == "text":
        path.write_text("not an image\n" * 20)
    else:
        path.write_bytes(b"")
    return Case(f"single-{what}", seed, path, "file.dcm", "error", score=True)


# ---------------------------------------------------------------- NIfTI
def ct_nifti_volume() -> np.ndarray:
    return base_hu(0).transpose(2, 1, 0)  # [x, y, z] for nibabel


def write_nifti(path: Path, data: np.ndarray, zooms=(PIXEL_MM, PIXEL_MM, SLICE_MM), descrip: str = "") -> Path:
    img = nib.Nifti1Image(data, np.diag([*zooms, 1.0]))
    if descrip:
        img.header["descrip"] = descrip.encode()
    nib.save(img, path)
    return path


NIFTI_FIELDS = {  # field: (byte offset in the 348-byte header, struct format)
    "sizeof_hdr": (0, "<i"), "dim0": (40, "<h"), "dim1": (42, "<h"), "dim3": (46, "<h"), "datatype": (70, "<h"),
    "pixdim1": (80, "<f"), "pixdim3": (88, "<f"), "vox_offset": (108, "<f"), "scl_slope": (112, "<f"), "scl_inter": (116, "<f"),
    "qform_code": (252, "<h"), "sform_code": (254, "<h"), "srow_x0": (280, "<f"), "magic": (344, "4s"),
}
NIFTI_VALUES = {
    "sizeof_hdr": [0, -1], "dim0": [8, 9, -1, 0, 2], "dim1": [-5, 0, 32767], "dim3": [1, 32767], "datatype": [0, 9999, 32, 128],
    "pixdim1": [0.0, float("nan"), float("inf"), -3.0, 1e-30], "pixdim3": [0.0, 1e30], "vox_offset": [0.0, 10.0, 1e9, float("nan")],
    "scl_slope": [float("nan"), float("inf")], "scl_inter": [float("nan"), float("inf")], "qform_code": [0], "sform_code": [0, -1],
    "srow_x0": [3e38, float("nan"), 0.0], "magic": [b"ni1\0", b"abc\0"],
}
NIFTI_EXPECT = {
    "sizeof_hdr": "error", "dim0": "error", "dim1": "error", "dim3": "error", "datatype": "error", "vox_offset": "error",
    "scl_slope": "error", "scl_inter": "error", "magic": "error",
    "pixdim1": "warn", "pixdim3": "warn", "srow_x0": "warn", "qform_code": "any", "sform_code": "warn",
}


def nifti_field_case(tmp: Path, seed: int, field: str, value, gz: bool) -> Case:
    tmp.mkdir(parents=True, exist_ok=True)
    path = write_nifti(tmp / "ct.nii", ct_nifti_volume())
    data = bytearray(path.read_bytes())
    off, fmt = NIFTI_FIELDS[field]
    data[off:off + struct.calcsize(fmt)] = struct.pack(fmt, value)
    if field == "sform_code" and value == 0:
        data[252:254] = struct.pack("<h", 0)  # both codes 0: orientation unknown
    if gz:
        path.unlink()
        path = tmp / "ct.nii.gz"
        path.write_bytes(gzip.compress(bytes(data)))
    else:
        path.write_bytes(bytes(data))
    expect = NIFTI_EXPECT[field]
    if field == "dim3" and value == 1:
        expect = "error"  # declares a single slice
    if field == "dim0" and value == 2:
        expect = "error"
    if field == "datatype" and value in (32, 128):
        expect = "error"
    if field in ("pixdim1", "pixdim3") and value == -3.0:
        expect = "any"  # the sform carries the geometry; a negative pixdim is qfac-like noise
    return Case(f"nifti-{field}={value!r}{'-gz' if gz else ''}", seed, path, path.name, expect, score=expect != "error" and not gz,
                geometry=field in ("srow_x0", "sform_code", "pixdim1"))


def nifti_gzip_case(tmp: Path, seed: int, how: str) -> Case:
    rng = np.random.default_rng(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    path = write_nifti(tmp / "ct.nii.gz", ct_nifti_volume())
    data = bytearray(path.read_bytes())
    if how == "crc":
        data[-8] ^= 0xFF
    elif how == "isize":
        data[-2] ^= 0x01
    elif how == "no-trailer":
        data = data[:-8]
    elif how == "flip":
        for off in rng.integers(20, len(data) - 8, 4):
            data[off] ^= 1 << int(rng.integers(0, 8))
    elif how == "half":
        data = data[: len(data) // 2]
    elif how == "garbage-after":
        data += rng.integers(1, 256, 100, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return Case(f"nifti-gzip-{how}", seed, path, path.name, "error")


def nifti_shape_case(tmp: Path, seed: int, shape: tuple[int, ...]) -> Case:
    tmp.mkdir(parents=True, exist_ok=True)
    data = np.full(shape, -1000, np.int16)
    path = write_nifti(tmp / "v.nii.gz", data)
    return Case(f"nifti-shape-{'x'.join(map(str, shape))}", seed, path, path.name, "error")


def nifti_huge_header_case(tmp: Path, seed: int, shape: tuple[int, int, int], dtype: str) -> Case:
    """A header declaring a huge volume with (almost) no data: refused before any allocation."""
    tmp.mkdir(parents=True, exist_ok=True)
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.dtype(dtype))
    hdr.set_sform(np.eye(4), 1)
    path = tmp / "huge.nii"
    path.write_bytes(hdr.binaryblock + b"\0" * 4 + b"\0" * 4096)
    return Case(f"nifti-huge-{'x'.join(map(str, shape))}-{dtype}", seed, path, path.name, "error")


def nifti_values_case(tmp: Path, seed: int, what: str) -> Case:
    rng = np.random.default_rng(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    data = ct_nifti_volume().astype(np.float32)
    if what == "nan-ct":
        data[rng.integers(0, SIZE, 5), rng.integers(0, SIZE, 5), rng.integers(0, N_SLICES, 5)] = np.nan
        path = write_nifti(tmp / "ct.nii.gz", data)
        return Case("nifti-nan-ct", seed, path, path.name, "warn", ("non-finite-values",), score=True)
    if what == "all-nan":
        path = write_nifti(tmp / "ct.nii.gz", np.full_like(data, np.nan))
        return Case("nifti-all-nan", seed, path, path.name, "error", score=True)
    if what == "mr":
        path = write_nifti(tmp / "mr.nii.gz", (rng.random(data.shape) * 800).astype(np.float32))
        return Case("nifti-mr", seed, path, None, "any", score=True)
    path = write_nifti(tmp / "ct.nii.gz", data.astype(np.int16))
    return Case("nifti-ct", seed, path, None, "any", score=True)


# ---------------------------------------------------------------- the real GE head CT (when present)
def real_case(tmp: Path, seed: int, source: Path, what: str) -> Case:
    folder = tmp / "ge"
    shutil.copytree(source, folder)
    paths = sorted(p for p in folder.iterdir() if p.is_file())
    rng = np.random.default_rng(seed)
    if what == "negative-spacing":
        for p in paths:
            _edit(p, lambda ds: "PixelSpacing" in ds and setattr(ds, "PixelSpacing", [-float(v) for v in ds.PixelSpacing]))
        return Case("ge-negative-spacing", seed, folder, paths[0].name, "warn", score=True, geometry=True)
    if what == "non-orthogonal":
        for p in paths:
            _edit(p, _set(ImageOrientationPatient=["1", "0", "0", "0.5", "0.866", "0"]))
        return Case("ge-non-orthogonal", seed, folder, None, "warn", ("geometry-unverified",), score=True, geometry=True)
    if what == "nan-slope-one":
        victim = paths[len(paths) // 2]
        _edit(victim, _set(RescaleSlope="nan"))
        return Case("ge-nan-slope-one", seed, folder, victim.name, "warn", score=True)
    if what == "rle-3":
        victims = _pick(rng, paths, 3)
        for p in victims:
            ds = pydicom.dcmread(p, force=True)
            ds.compress(RLELossless)
            frag = bytearray(next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)))
            frag[4:64] = rng.integers(0, 256, 60, dtype=np.uint8).tobytes()
            ds.PixelData = pydicom.encaps.encapsulate([bytes(frag)])
            ds.save_as(p, enforce_file_format=True)
        return Case("ge-rle-3", seed, folder, None, "any", score=True)
    if what == "signed-as-unsigned":  # GE stores signed values (padding -1500): read as unsigned they are 64036
        for p in paths:
            if p.suffix == ".dcm":
                _edit(p, _set(PixelRepresentation=0))
        return Case("ge-signed-as-unsigned", seed, folder, "01.dcm", "error", score=True)
    victim = paths[int(rng.integers(1, len(paths) - 1))]
    _edit(victim, _set(ImagePositionPatient=None))
    return Case("ge-missing-position-one", seed, folder, victim.name, "warn", score=True, geometry=True)


REAL_KINDS = ("negative-spacing", "non-orthogonal", "nan-slope-one", "rle-3", "missing-position-one", "signed-as-unsigned")


def builders() -> list[tuple[str, Callable[[Path], Case]]]:
    """Every generated case as (id, builder(tmp) -> Case), in a fixed order; seeds make them reproducible."""
    out: list[tuple[str, Callable[[Path], Case]]] = []
    seed = 0

    def add(name: str, fn: Callable[[Path, int], Case]) -> None:
        nonlocal seed
        seed += 1
        s = seed
        out.append((f"{name}-{s}", lambda tmp, fn=fn, s=s: fn(tmp, s)))

    for tag, (values, _) in TAG_KINDS.items():
        for v in values:
            for every in (True, False):
                add(f"{tag}={v}-{'all' if every else 'one'}", lambda t, s, tag=tag, v=v, e=every: tag_case(t, s, tag, v, e))
    for k in range(6):
        add("truncated-some", lambda t, s: truncate_case(t, s, False))
    for k in range(3):
        add("truncated-all", lambda t, s: truncate_case(t, s, True))
    for n_bytes, n_files in ((8, 3), (64, 1), (8, 10), (256, 2), (16, 1)):
        for k in range(5):
            add(f"header-flip-{n_bytes}x{n_files}", lambda t, s, nb=n_bytes, nf=n_files: header_flip_case(t, s, nb, nf))
    for k in range(4):
        add("pixel-flip", pixel_flip_case)
    for how in ("header", "segments", "cut", "flip"):
        for k in range(3):
            add(f"rle-{how}", lambda t, s, how=how: rle_case(t, s, how))
    for k in range(2):
        add("deflate", deflate_case)
    for what in ("patient", "study"):
        for k in range(2):
            add(f"mixed-{what}", lambda t, s, w=what: identity_case(t, s, w))
    add("same-sop-uid", duplicate_uid_case)
    for every in (True, False):
        add(f"signed-as-unsigned-{every}", lambda t, s, e=every: signed_as_unsigned_case(t, s, e))
    for what in ("zeros-2GB", "random", "empty", "raw-like", "fifo", "dicm-zeros"):
        add(f"extra-{what}", lambda t, s, w=what: extra_files_case(t, s, w))
    for what in ("devnull", "empty-folder", "random", "text", "empty"):
        add(f"single-{what}", lambda t, s, w=what: lonely_file_case(t, s, w))
    for field, values in NIFTI_VALUES.items():
        for v in values:
            for gz in (False, True):
                add(f"nifti-{field}={v!r}-{'gz' if gz else 'nii'}", lambda t, s, f=field, v=v, gz=gz: nifti_field_case(t, s, f, v, gz))
    for how in ("crc", "isize", "no-trailer", "flip", "half", "garbage-after"):
        for k in range(2 if how == "flip" else 1):
            add(f"nifti-gzip-{how}", lambda t, s, h=how: nifti_gzip_case(t, s, h))
    for shape in ((1, 1, 1), (104, 150, 1), (1000, 1000, 1), (1, 64, 64), (20, 22)):
        add(f"nifti-shape-{shape}", lambda t, s, sh=shape: nifti_shape_case(t, s, sh))
    for shape, dtype in (((32767, 32767, 32767), "int16"), ((1024, 1024, 512), "float32"), ((4096, 4096, 4096), "uint8")):
        add(f"nifti-huge-{shape}", lambda t, s, sh=shape, d=dtype: nifti_huge_header_case(t, s, sh, d))
    for what in ("nan-ct", "all-nan", "mr", "ct"):
        add(f"nifti-{what}", lambda t, s, w=what: nifti_values_case(t, s, w))
    return out
