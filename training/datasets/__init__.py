"""Readers for the real datasets' formats (RSNA 2019 DICOM + CSV, BET-BSE NIfTI + label_file.csv)."""
