"""NeuroReview engine: loading, windowing, model runtime, tasks, explanations, QC and reader studies.

This package must never import Qt, VTK, pyqtgraph or torch (see tests/test_architecture.py):
it is shared by the GUI, the command line, the batch workers and the training code.
"""

__version__ = "0.1.0"
