"""A tiny deterministic policy for exercising servers, clients and executors.

Its chunk is an exact, cheap function of the observation (state, mean image colour per
camera, prompt length), so a test can compute the expected answer on the other side of a
socket. Knobs make it slow (timeouts) or fail (server error handling). Not a real policy.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata


class LinearTestPolicy(Policy):
    """actions[k] = W @ inputs * (k + 1) / H + b, features = tanh(V @ inputs)."""

    def __init__(self, *, action_dim: int = 3, state_dim: int = 4,
                 cameras: tuple[str, ...] = ("scene",), image_size: tuple[int, int] = (8, 8),
                 horizon: int = 5, dt: float = 0.1, feature_dim: int = 6, seed: int = 0,
                 delay: float = 0.0, fail_prompt: str | None = None) -> None:
        self._meta = PolicyMetadata(
            action_names=tuple(f"joint{i}" for i in range(action_dim)),
            state_names=tuple(f"joint{i}" for i in range(state_dim)),
            cameras=tuple(cameras), image_size=tuple(image_size),  # type: ignore[arg-type]
            horizon=horizon, dt=dt, feature_dim=feature_dim,
        )
        rng = np.random.default_rng(seed)
        inputs = state_dim + 3 * len(cameras) + 1
        self.weights = rng.normal(size=(action_dim, inputs))
        self.bias = rng.normal(size=action_dim)
        self.feature_weights = rng.normal(size=(feature_dim, inputs))
        self.delay = delay  # seconds each infer() sleeps: for timeout tests
        self.fail_prompt = fail_prompt  # infer() raises RuntimeError for this instruction
        self.calls = 0
        self.resets = 0
        self._lock = threading.Lock()

    @property
    def metadata(self) -> PolicyMetadata:
        return self._meta

    def reset(self) -> None:
        self.resets += 1

    def inputs(self, obs: Observation) -> np.ndarray:
        colours = [obs.images[c].reshape(-1, 3).mean(axis=0) / 255.0 for c in self._meta.cameras]
        return np.concatenate([np.asarray(obs.state, dtype=np.float64), *colours,
                               [len(obs.instruction) / 10.0]])

    def infer(self, observation: Observation) -> ActionChunk:
        self.validate(observation)
        with self._lock:
            self.calls += 1
        if self.fail_prompt is not None and observation.instruction == self.fail_prompt:
            raise RuntimeError(f"test policy told to fail on prompt {self.fail_prompt!r}")
        if self.delay:
            time.sleep(self.delay)
        x = self.inputs(observation)
        ramp = (np.arange(self._meta.horizon) + 1)[:, None] / self._meta.horizon
        actions = ramp * (self.weights @ x)[None, :] + self.bias[None, :]
        features = np.tanh(self.feature_weights @ x).astype(np.float32)
        return ActionChunk(actions=actions, names=list(self._meta.action_names),
                           dt=self._meta.dt, features=features, stamp=observation.stamp)

    def example_observation(self, seed: int = 0, stamp: float = 0.0,
                            instruction: str = "pick up the cube") -> Observation:
        rng = np.random.default_rng(seed)
        h, w = self._meta.image_size
        images = {c: rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
                  for c in self._meta.cameras}
        return Observation(images=images, state=rng.normal(size=self._meta.state_dim),
                           instruction=instruction, stamp=stamp)
