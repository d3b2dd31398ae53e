"""User-facing layer: the PySide6 GUI and the `neuroreview` command line, both over core/.

Keep this file free of Qt imports so `neuroreview info|score|qc` start fast and run headless.
"""
