"""Reading workflow GUI for reader studies (PySide6): start dialog, reading window, answer widgets."""
