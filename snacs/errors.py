"""Exception types that carry an actionable message for the user.

Every error a user can cause by a typo, a missing file or a bad config value is raised
as one of these, so the CLI can print it without a traceback.
"""


class SnacsError(Exception):
    """Base class of all user-facing errors."""


class UnknownNameError(SnacsError, KeyError):
    """A name (model, pruner, dataset, benchmark, ...) that is not registered."""

    def __init__(self, kind: str, name: str, choices: list[str]):
        self.kind, self.name, self.choices = kind, name, sorted(choices)
        super().__init__(f"unknown {kind} {name!r}; valid choices: {', '.join(self.choices)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class DatasetNotFoundError(SnacsError, FileNotFoundError):
    """A real dataset is missing on disk; never replaced by synthetic data."""


class CorruptDataError(SnacsError):
    """A dataset file is truncated, damaged, or not what its format says; names the file."""


class CheckpointError(SnacsError):
    """A checkpoint is truncated, unreadable, or does not fit its architecture."""


class DiskFullError(SnacsError, OSError):
    """An output could not be written for want of space; names the file and the free space."""


class ConfigError(SnacsError, ValueError):
    """A configuration value is invalid; the message names the key."""
