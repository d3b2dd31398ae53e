"""Training side (torch): generated study data, dataset readers for real formats, nets, training, ONNX export.

Imports core (shared preprocessing); core never imports this package.
"""
