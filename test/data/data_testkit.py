"""Shared helpers for the data tests: synthetic frames that survive lossy video well."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vla_ros.data import DatasetWriter, ExtraFeature

FPS = 10
CAMERAS = {"front": (48, 64), "wrist": (32, 32)}
STATE_NAMES = ["shoulder", "elbow", "wrist"]
EXTRAS = {"next.reward": ExtraFeature("float32"),
          "observation.effort": ExtraFeature("float32", (2,), ["e0", "e1"]),
          "next.done": ExtraFeature("bool")}


def image(t: int, h: int, w: int) -> np.ndarray:
    """Smooth gradients that move with t: codecs keep them within a few grey levels."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 3 + 4 * t) % 256, (y * 4 + 2 * t) % 256,
                     np.full_like(x, (20 * t + 30) % 256)], -1).astype(np.uint8)


def open_writer(root: Path, **kwargs) -> DatasetWriter:
    args = dict(fps=FPS, state_names=STATE_NAMES, action_names=2, cameras=CAMERAS,
                robot_type="test_arm", extras=EXTRAS)
    args.update(kwargs)
    return DatasetWriter(root, **args)


def frame_args(rng: np.random.Generator, t: int, task: str) -> dict:
    """Keyword arguments of one add_frame call (extras included)."""
    return dict(state=rng.normal(size=3), action=rng.normal(size=2),
                images={cam: image(t, h, w) for cam, (h, w) in CAMERAS.items()}, task=task,
                **{"next.reward": float(rng.random()), "observation.effort": rng.normal(size=2),
                   "next.done": bool(t % 5 == 4)})


def record(writer: DatasetWriter, lengths: list[int], tasks: list[str], seed: int = 0,
           ) -> list[list[dict]]:
    """Record one episode per length; returns what was given to add_frame."""
    rng = np.random.default_rng(seed)
    given = []
    for n, task in zip(lengths, tasks, strict=True):
        frames = [frame_args(rng, t, task) for t in range(n)]
        for f in frames:
            writer.add_frame(**f)
        writer.save_episode()
        given.append(frames)
    return given


def tree_digest(root: Path) -> dict[str, str]:
    """Content hash of every file under root (to prove nothing was touched)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
