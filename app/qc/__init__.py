"""Batch skull-strip QC review GUI: results table, mosaics, 3-D front view, Grad-CAM, one-key ratings."""
