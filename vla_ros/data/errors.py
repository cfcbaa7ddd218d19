"""Exceptions and warnings of the dataset package.

Every error names the file, feature or episode it is about, so a recorder operator or a
training script can tell what to fix without reading our code.
"""

from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """Base class of every dataset error."""


class NotADatasetError(DatasetError):
    """The path holds something that is not a LeRobot v3 dataset (left untouched)."""


class IncompatibleDatasetError(DatasetError):
    """The dataset exists but was recorded with other features, fps, robot or version."""


class DatasetLockedError(DatasetError):
    """Another writer holds the dataset open."""


class CorruptDatasetError(DatasetError):
    """A dataset file is missing, unreadable or inconsistent with the metadata."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class DatasetValidationError(DatasetError):
    """`validate()` found problems; `.problems` lists every one of them."""

    def __init__(self, root: str | Path, problems: list[str]):
        self.root = Path(root)
        self.problems = list(problems)
        listing = "\n  - ".join(self.problems)
        super().__init__(f"dataset {self.root} failed validation ({len(problems)} problems):\n"
                         f"  - {listing}")


class FrameError(DatasetError, ValueError):
    """`add_frame` got a value of the wrong shape, type or range."""


class EpisodeError(DatasetError):
    """An episode cannot be saved (empty, encoder failure, ...)."""


class PartialEpisodeWarning(UserWarning):
    """A crashed recorder left a partly written episode; it was moved aside."""
