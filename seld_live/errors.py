"""Errors a user can cause. The CLIs print their message on one line and exit non-zero."""


class SeldError(Exception):
    """A problem with the user's input (file, device, checkpoint, configuration)."""


class CheckpointError(SeldError):
    """A checkpoint is missing, unsafe, corrupt, or does not fit the input."""


class AudioInputError(SeldError):
    """Audio that cannot be used: wrong channel count or rate, unreadable, NaN/Inf."""


class GeometryError(SeldError):
    """An array geometry file is malformed or inconsistent."""


class ConfigError(SeldError):
    """A configuration (TOML file, ``--set`` override, dict) with an unknown key or a value of the wrong type."""


class UsageError(SeldError):
    """Options that do not go together or cannot be used here (exit status 2, like argparse's own)."""
