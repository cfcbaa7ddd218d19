"""What every policy takes and returns, independent of how it computes actions.

The node, the simulator's evaluation loop and SAFE all talk to policies through these
types only, so the built-in VLA, a remote openpi-style server and a LeRobot checkpoint are
interchangeable. Observations are checked here, once, so each backend gets the same clear
`PolicyInputError` for the same bad input instead of a shape error deep inside torch.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from vla_ros.policy.errors import PolicyInputError

# Float32MultiArray dimension label carrying the chunk id of a feature vector (SAFE reads it).
FEATURES_LABEL_PREFIX = "chunk_id="


def features_label(chunk_id: int) -> str:
    """The layout label that ties a `policy/features` message to its action chunk."""
    return f"{FEATURES_LABEL_PREFIX}{int(chunk_id)}"


def parse_features_label(label: str) -> int:
    """Inverse of `features_label`; a label of another shape is a ValueError naming it."""
    if not label.startswith(FEATURES_LABEL_PREFIX):
        raise ValueError(f"features label {label!r} does not start with {FEATURES_LABEL_PREFIX!r}")
    try:
        return int(label[len(FEATURES_LABEL_PREFIX):])
    except ValueError:
        raise ValueError(f"features label {label!r} carries no integer chunk id") from None


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """HxWx3 uint8 → `size` (height, width) with area interpolation.

    Training resizes dataset frames with this function and the policy node resizes live
    camera images with it, so both see the same pixels for the same scene.
    """
    if image.shape[:2] == tuple(size):
        return image
    import cv2

    return cv2.resize(image, (int(size[1]), int(size[0])), interpolation=cv2.INTER_AREA)


@dataclass
class Observation:
    """One synchronised observation: camera images, proprioception and the instruction."""

    images: dict[str, np.ndarray]  # camera name -> H x W x 3 uint8 RGB
    state: np.ndarray  # (state_dim,) proprioception, in `PolicyMetadata.state_names` order
    instruction: str
    stamp: float = 0.0  # seconds; the time the observation was taken


@dataclass
class ActionChunk:
    """H future actions predicted from one observation, plus what SAFE needs from the call."""

    actions: np.ndarray  # (H, D) float, un-normalised, in `names` order
    names: list[str]  # action dimension names (D)
    dt: float  # seconds between consecutive actions
    features: np.ndarray | None = None  # the policy's last hidden layer for this call
    stamp: float = 0.0  # the observation's time: action k is meant for stamp + (k + 1) * dt

    def __post_init__(self) -> None:
        self.actions = np.asarray(self.actions, dtype=np.float64)
        if self.actions.ndim != 2 or self.actions.shape[1] != len(self.names):
            raise ValueError(
                f"action chunk must be [H, {len(self.names)}] for names {self.names}, "
                f"got shape {self.actions.shape}"
            )
        if not self.dt > 0:
            raise ValueError(f"action chunk dt must be > 0 s, got {self.dt}")

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Offsets from `stamp` at which each action applies: (k + 1) * dt."""
        return (np.arange(self.horizon) + 1) * self.dt


@dataclass(frozen=True)
class PolicyMetadata:
    """What a policy expects and produces; the node configures its topics from this."""

    action_names: tuple[str, ...]
    state_names: tuple[str, ...]
    cameras: tuple[str, ...]
    image_size: tuple[int, int]  # (height, width) every camera image must have
    horizon: int
    dt: float
    feature_dim: int = 0  # 0: the policy exposes no features
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    @property
    def state_dim(self) -> int:
        return len(self.state_names)


class Policy(abc.ABC):
    """`reset()` between episodes, `infer(observation)` for each chunk."""

    @property
    @abc.abstractmethod
    def metadata(self) -> PolicyMetadata:
        """Action/state names, cameras, image size, horizon and dt."""

    def reset(self) -> None:  # noqa: B027 - stateless policies need nothing
        """Forget per-episode state (history, caches tied to the last episode)."""

    @abc.abstractmethod
    def infer(self, observation: Observation) -> ActionChunk:
        """Predict one action chunk; raises PolicyInputError for an unusable observation."""

    def validate(self, observation: Observation) -> None:
        """Check an observation against `metadata`; every backend calls this first."""
        validate_observation(observation, self.metadata)


def validate_observation(observation: Observation, meta: PolicyMetadata) -> None:
    """Raise PolicyInputError naming the camera/field that does not match `meta`."""
    if not isinstance(observation, Observation):
        raise PolicyInputError(f"expected an Observation, got {type(observation).__name__}")
    _check_images(observation.images, meta.cameras, meta.image_size)
    _check_state(observation.state, meta.state_names)
    if not isinstance(observation.instruction, str):
        raise PolicyInputError(
            f"instruction must be a str, got {type(observation.instruction).__name__}"
        )
    if not np.isfinite(observation.stamp):
        raise PolicyInputError(f"observation stamp must be finite, got {observation.stamp}")


def _check_images(images: Mapping[str, np.ndarray], cameras: Sequence[str],
                  size: tuple[int, int]) -> None:
    missing = [c for c in cameras if c not in images]
    if missing:
        raise PolicyInputError(
            f"observation lacks camera(s) {missing}; the policy needs {list(cameras)}, "
            f"got {sorted(images)}"
        )
    height, width = size
    for cam in cameras:
        image = images[cam]
        if not isinstance(image, np.ndarray):
            raise PolicyInputError(f"camera '{cam}': image must be a numpy array, "
                                   f"got {type(image).__name__}")
        if image.shape != (height, width, 3):
            raise PolicyInputError(
                f"camera '{cam}': image must be {height}x{width}x3 (HxWx3 RGB), "
                f"got shape {image.shape}"
            )
        if image.dtype != np.uint8:
            raise PolicyInputError(f"camera '{cam}': image must be uint8, got {image.dtype}")


def _check_state(state: np.ndarray, names: Sequence[str]) -> None:
    array = np.asarray(state)
    if array.shape != (len(names),):
        raise PolicyInputError(
            f"state must have shape ({len(names)},) for joints {list(names)}, "
            f"got {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise PolicyInputError(f"state must be numeric, got dtype {array.dtype}")
    bad = [names[i] for i in np.flatnonzero(~np.isfinite(array.astype(np.float64)))]
    if bad:
        raise PolicyInputError(f"state holds NaN or infinite values for {bad}")
