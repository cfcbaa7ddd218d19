"""Training samples for the built-in VLA: (observation at t, action chunk t..t+H-1).

Episodes come from any `EpisodeSource`: our LeRobotDataset v3 reader
(`vla_ros.data.DatasetReader` fits the protocol as it is) or `SyntheticEpisodes`, an
in-memory task family used by tests and smoke runs before any dataset exists. Everything
is decoded once into memory (uint8 images at the model's size), so a training step costs
an index lookup, not a video seek. Chunks that run past the end of an episode are padded
with the last action and masked out of the loss, as LeRobot's `action_is_pad` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.nn import functional

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import resize_image
from vla_ros.policy.normalize import ACTION_KEY, STATE_KEY, Normalizer, Stats


class EpisodeLike(Protocol):
    states: np.ndarray  # (T, S)
    actions: np.ndarray  # (T, D)
    task: str
    frames: Mapping[str, np.ndarray]  # camera -> (T, H, W, 3) uint8


class EpisodeSource(Protocol):
    """What training needs from a dataset (DatasetReader satisfies it)."""

    cameras: list[str]
    fps: int

    @property
    def num_episodes(self) -> int: ...

    @property
    def state_names(self) -> list[str]: ...

    @property
    def action_names(self) -> list[str]: ...

    def episode(self, index: int) -> EpisodeLike: ...


# ---------------------------------------------------------------- synthetic episodes
@dataclass
class SyntheticEpisode:
    states: np.ndarray
    actions: np.ndarray
    task: str
    frames: dict[str, np.ndarray]
    timestamps: np.ndarray


COLOURS = {"red": (220, 40, 40), "blue": (40, 60, 220), "green": (40, 200, 60),
           "yellow": (230, 210, 40)}


class SyntheticEpisodes:
    """A tiny language-conditioned reaching task rendered in numpy.

    Two coloured squares sit at random places; the instruction names one ("move to the red
    target"); a grey dot marks the end effector. The state is the effector's (x, y) in
    [-1, 1] (plus zero-valued extra joints if asked) and the action is the next position,
    a capped step towards the named square. Solving it needs the image (where the squares
    are), the instruction (which one) and the state (where the effector is), so a
    falling training loss means all three inputs are used.
    """

    def __init__(self, num_episodes: int = 8, length: int = 30,
                 image_size: tuple[int, int] = (32, 32), cameras: Sequence[str] = ("front",),
                 colours: Sequence[str] = ("red", "blue"),
                 extra_joints: int = 0, fps: int = 10, step: float = 0.15, seed: int = 0) -> None:
        unknown = [c for c in colours if c not in COLOURS]
        if unknown or len(colours) < 1:
            raise PolicyConfigError(f"unknown colours {unknown}; choose from {sorted(COLOURS)}")
        self.cameras = list(cameras)
        self.fps = int(fps)
        self.length = int(length)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.colours = list(colours)
        self.step = float(step)
        self._extra = int(extra_joints)
        self._seed = int(seed)
        self._count = int(num_episodes)
        self.tasks = [f"move to the {c} target" for c in self.colours]

    @property
    def num_episodes(self) -> int:
        return self._count

    @property
    def state_names(self) -> list[str]:
        return ["ee_x", "ee_y"] + [f"joint_{i}" for i in range(self._extra)]

    @property
    def action_names(self) -> list[str]:
        return ["target_x", "target_y"] + [f"joint_{i}_cmd" for i in range(self._extra)]

    def episode(self, index: int) -> SyntheticEpisode:
        if not 0 <= index < self._count:
            raise IndexError(f"synthetic episode {index} out of range ({self._count})")
        rng = np.random.default_rng([self._seed, index])
        spots = rng.uniform(-0.8, 0.8, size=(len(self.colours), 2))
        goal = int(rng.integers(len(self.colours)))
        pos = rng.uniform(-0.9, 0.9, size=2)
        states, actions = [], []
        for _ in range(self.length):
            delta = spots[goal] - pos
            dist = float(np.linalg.norm(delta))
            nxt = pos + (delta if dist <= self.step else delta * self.step / dist)
            states.append(np.concatenate([pos, np.zeros(self._extra)]))
            actions.append(np.concatenate([nxt, np.zeros(self._extra)]))
            pos = nxt
        states_arr = np.asarray(states, dtype=np.float32)
        frames = {cam: np.stack([self.render(spots, s[:2], shift=i) for s in states_arr])
                  for i, cam in enumerate(self.cameras)}
        return SyntheticEpisode(states_arr, np.asarray(actions, dtype=np.float32),
                                self.tasks[goal], frames,
                                np.arange(self.length, dtype=np.float32) / self.fps)

    def render(self, spots: np.ndarray, effector: np.ndarray, shift: int = 0) -> np.ndarray:
        """One RGB frame; camera `shift` offsets the view so cameras differ."""
        height, width = self.image_size
        image = np.full((height, width, 3), 30, dtype=np.uint8)
        half = max(1, min(height, width) // 10)

        def pixel(p: np.ndarray) -> tuple[int, int]:
            col = int(round((p[0] + 1) / 2 * (width - 1))) + shift
            row = int(round((p[1] + 1) / 2 * (height - 1)))
            return min(max(row, 0), height - 1), min(max(col, 0), width - 1)

        for colour, spot in zip(self.colours, spots, strict=True):
            r, c = pixel(spot)
            image[max(r - half, 0):r + half + 1, max(c - half, 0):c + half + 1] = COLOURS[colour]
        r, c = pixel(effector)
        image[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] = 200
        return image


# ------------------------------------------------------------------- chunk samples
def fit_image_size(height: int, width: int, limit: int = 128) -> tuple[int, int]:
    """Dataset image size → model size: unchanged up to `limit`, else scaled (aspect kept)."""
    if max(height, width) <= limit:
        return height, width
    scale = limit / max(height, width)
    return max(16, int(round(height * scale / 8)) * 8), max(16, int(round(width * scale / 8)) * 8)


def names_or_default(names: Sequence[str], dim: int, prefix: str) -> list[str]:
    names = list(names or [])
    return names if len(names) == dim else [f"{prefix}_{i}" for i in range(dim)]


class ChunkSamples:
    """All (frame, chunk) pairs of a set of episodes, held in memory for fast batching."""

    def __init__(self, source: EpisodeSource, episodes: Sequence[int], horizon: int,
                 image_size: tuple[int, int]) -> None:
        if not episodes:
            raise PolicyConfigError("no episodes to build training samples from")
        self.cameras = list(source.cameras)
        if not self.cameras:
            raise PolicyConfigError("the dataset has no cameras; the built-in VLA needs one")
        self.horizon = int(horizon)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        # Two passes, so the images go straight into arrays of their final size: with one
        # list per episode and a concatenate at the end, the peak was twice the images and
        # the freed lists stayed in the heap (12 GB resident for 6 GB of frames).
        loaded = [source.episode(e) for e in episodes]  # datasets decode video lazily
        states, actions, tasks, lengths = [], [], [], []
        chunk_index, pad = [], []
        offset = 0
        for e, ep in zip(episodes, loaded, strict=True):
            length = len(ep.states)
            if length == 0 or len(ep.actions) != length:
                raise PolicyConfigError(f"episode {e}: {length} states but "
                                        f"{len(ep.actions)} actions")
            states.append(np.asarray(ep.states, dtype=np.float32))
            actions.append(np.asarray(ep.actions, dtype=np.float32))
            tasks.extend([ep.task] * length)
            lengths.append(length)
            steps = np.arange(length)[:, None] + np.arange(self.horizon)[None, :]
            pad.append(steps >= length)
            chunk_index.append(offset + np.minimum(steps, length - 1))
            offset += length
        self.images = {cam: np.empty((offset, *self.image_size, 3), dtype=np.uint8)
                       for cam in self.cameras}
        offset = 0
        for k, (e, length) in enumerate(zip(episodes, lengths, strict=True)):
            ep, loaded[k] = loaded[k], None  # its decoded video is freed once copied
            for cam in self.cameras:
                frames = ep.frames[cam]
                if len(frames) != length:
                    raise PolicyConfigError(f"episode {e}: camera {cam!r} has {len(frames)} "
                                            f"frames for {length} steps")
                target = self.images[cam]
                for t, frame in enumerate(frames):
                    target[offset + t] = resize_image(np.asarray(frame), self.image_size)
            offset += length
        self.states = np.concatenate(states)
        self.actions = np.concatenate(actions)
        self.chunk_index = np.concatenate(chunk_index)
        self.pad = np.concatenate(pad)
        self.task_names = sorted(set(tasks))
        lookup = {t: i for i, t in enumerate(self.task_names)}
        self.task_index = np.array([lookup[t] for t in tasks], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.states)

    def stats(self) -> Normalizer:
        return Normalizer(Stats.of(self.states), Stats.of(self.actions))

    def batch(self, indices: np.ndarray, normalizer: Normalizer, text: torch.Tensor,
              device: torch.device) -> dict[str, torch.Tensor]:
        """Tensors for frames `indices`: images (B, C, 3, H, W) in [0, 1], normalised state
        and action chunk, pad mask, and text embeddings from the (num_tasks, T) table."""
        imgs = np.stack([self.images[c][indices] for c in self.cameras], axis=1)
        images = torch.from_numpy(imgs).to(device, non_blocking=True)
        images = images.permute(0, 1, 4, 2, 3).float().div_(255.0)
        chunk = normalizer.normalize_action(self.actions[self.chunk_index[indices]])
        tensors = {
            "images": images,
            "state": torch.from_numpy(normalizer.normalize_state(self.states[indices])),
            "actions": torch.from_numpy(chunk),
            "pad": torch.from_numpy(self.pad[indices]),
        }
        out = {k: v.to(device, non_blocking=True) for k, v in tensors.items()}
        out["text"] = text[torch.from_numpy(self.task_index[indices]).to(text.device)]
        return out


def dataset_normalizer(source: Any, samples: ChunkSamples) -> Normalizer:
    """meta/stats.json's mean/std when the dataset has them (and they fit), else computed."""
    stats = getattr(source, "stats", None)
    if isinstance(stats, Mapping) and STATE_KEY in stats and ACTION_KEY in stats:
        try:
            normalizer = Normalizer.from_dataset_stats(stats)
            normalizer.check_dims(samples.states.shape[1], samples.actions.shape[1])
            return normalizer
        except PolicyConfigError:
            pass  # e.g. stats written before a schema change: fall back to computing them
    return samples.stats()


# --------------------------------------------------------------------- augmentation
def augment_images(images: torch.Tensor, generator: torch.Generator, shift: float = 0.06,
                   jitter: float = 0.2) -> torch.Tensor:
    """Random shift (up to `shift` of the image, edge-padded) and colour jitter, per sample.

    images: (B, C, 3, H, W) in [0, 1]. Shifts move every camera of a sample independently;
    brightness/contrast/per-channel gains vary by ±`jitter`/±`jitter`/±`jitter`/4.
    """
    b, c, ch, h, w = images.shape
    flat = images.reshape(b * c, ch, h, w)
    device = images.device

    def uniform(*shape: int, scale: float) -> torch.Tensor:
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * scale).to(device)

    if shift > 0:
        theta = torch.zeros(b * c, 2, 3, device=device)
        theta[:, 0, 0] = 1.0
        theta[:, 1, 1] = 1.0
        theta[:, :, 2] = uniform(b * c, 2, scale=2 * shift)
        grid = functional.affine_grid(theta, list(flat.shape), align_corners=False)
        flat = functional.grid_sample(flat, grid, padding_mode="border", align_corners=False)
    if jitter > 0:
        brightness = 1 + uniform(b * c, 1, 1, 1, scale=jitter)
        contrast = 1 + uniform(b * c, 1, 1, 1, scale=jitter)
        gains = 1 + uniform(b * c, ch, 1, 1, scale=jitter / 4)
        mean = flat.mean(dim=(1, 2, 3), keepdim=True)
        flat = ((flat - mean) * contrast + mean) * brightness * gains
    return flat.clamp_(0.0, 1.0).reshape(b, c, ch, h, w)
