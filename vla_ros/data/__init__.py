"""LeRobotDataset v3 recording and reading with crash-safe episode commits.

The writer and reader speak the on-disk layout LeRobot 0.4.x reads (parquet + mp4 +
meta/info.json); see docs/dataset.md for the layout and the commit protocol.

Names are imported lazily so that `vla_ros.data.<other module>` does not pull in pyarrow
and PyAV for code that never touches a dataset.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CorruptDatasetError": "errors",
    "DatasetError": "errors",
    "DatasetLockedError": "errors",
    "DatasetValidationError": "errors",
    "EpisodeError": "errors",
    "FrameError": "errors",
    "IncompatibleDatasetError": "errors",
    "NotADatasetError": "errors",
    "PartialEpisodeWarning": "errors",
    "ExtraFeature": "features",
    "DatasetReader": "reader",
    "Episode": "reader",
    "ValidationReport": "validate",
    "validate_dataset": "validate",
    "VideoSettings": "video",
    "DatasetWriter": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vla_ros.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vla_ros.data.{module}"), name)
