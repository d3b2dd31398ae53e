"""Skull-strip quality control: shared preprocessing, deterministic measures, batch engine, report."""
