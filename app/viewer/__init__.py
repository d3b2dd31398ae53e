"""The reading-room viewer: state (models) in `state`, Qt views and panels beside it."""
