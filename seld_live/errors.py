"""Errors a user can cause. The CLIs print their message on one line and exit non-zero."""


class SeldError(Exception):
    """A problem with the user's input (file, device, checkpoint, configuration)."""


class CheckpointError(SeldError):
    """A checkpoint is missing, unsafe, corrupt, or does not fit the input."""


class AudioInputError(SeldError):
    """Audio that cannot be used: wrong channel count or rate, unreadable, NaN/Inf."""


class GeometryError(SeldError):
    """An array geometry file is malformed or inconsistent."""
