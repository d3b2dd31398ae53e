"""Triage worklist window and the viewer's Query/Retrieve dialog (issue 14)."""
