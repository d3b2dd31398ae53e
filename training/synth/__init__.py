"""Generated study data: head CT phantoms with hemorrhages (RSNA 2019 format) and skull-stripped MRI.

Deterministic from a seed, fast enough to make training sets on a laptop, and written in the real
datasets' formats so the same training and evaluation code runs on RSNA 2019 / CQ500 / BET-BSE.
"""
