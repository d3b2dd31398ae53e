"""DICOM networking for the hospital's flow: a C-STORE listener filing into a local store,
query/retrieve from a PACS node, a triage worklist scored in the background, and results sent
back as DICOM SR + secondary capture. Research use only, not for clinical use.

pynetdicom and highdicom are imported by the modules that need them, not here.
"""
