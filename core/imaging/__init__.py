"""Image operations shared by display, models and training (no Qt, no torch)."""
