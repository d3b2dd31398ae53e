"""Loading: DICOM series and NIfTI files into one `Volume` (see core/volume.py for conventions).

    scan(path)  -> ScanResult: the series found in a file or folder tree, and the files that failed
    load(path)  -> Volume: one series (the largest when several, with a warning) or one NIfTI file
"""

from core.io.loader import ScanResult, SeriesSummary, load, scan

__all__ = ["ScanResult", "SeriesSummary", "load", "scan"]
