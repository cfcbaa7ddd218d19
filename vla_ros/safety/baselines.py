"""Baseline detectors SAFE is compared against (all fitted on successful training steps).

Novelty of a step's feature vector relative to successful training features --
Mahalanobis distance, Euclidean / cosine k-nearest-neighbour distance, distance to the
nearest k-means centroid in a PCA subspace, random network distillation error -- plus
STAC-like action-chunk inconsistency and the time-only sanity score (s_t = t). Each novelty
score is averaged over the episode so far (see `RunningMeanDetector`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla_ros.safety.detector import Detector, RunningMeanDetector
from vla_ros.safety.rollouts import Rollout


def _success_steps(rollouts: list[Rollout]) -> np.ndarray:
    return np.concatenate([r.features for r in rollouts]).astype(np.float64)


def _subsample(x: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(x) <= limit:
        return x
    idx = np.random.default_rng(seed).choice(len(x), size=limit, replace=False)
    return x[np.sort(idx)]


class TimeOnly(Detector):
    """s_t = t: knows nothing but the step count (sanity check; AUC ≈ 0.5 when truncated)."""

    name = "time_only"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        pass

    def reset(self) -> None:
        self._t = -1

    def _update(self, feature: np.ndarray, chunk: np.ndarray | None) -> float:
        self._t += 1
        return float(self._t)

    def _scores(self, features: np.ndarray, actions: np.ndarray | None) -> np.ndarray:
        return np.arange(len(features), dtype=np.float64)


class Mahalanobis(RunningMeanDetector):
    """Distance to the Gaussian of successful features (covariance shrunk toward identity)."""

    name = "mahalanobis"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        z = self.standardize(_success_steps(rollouts)).astype(np.float64)
        cov = np.cov(z, rowvar=False).reshape(self.feature_dim, self.feature_dim)
        shrink = float(self.options.get("shrinkage", 0.05))
        cov = (1 - shrink) * cov + shrink * np.eye(self.feature_dim)
        self.center = z.mean(0)
        self.precision = np.linalg.inv(cov)

    def _raw(self, features, actions):
        d = self.standardize(features).astype(np.float64) - self.center
        return np.sqrt(np.maximum(np.einsum("ti,ij,tj->t", d, self.precision, d), 0.0))

    def state(self):
        return {**super().state(), "center": self.center, "precision": self.precision}

    def _load_state(self, arrays):
        self.center = np.asarray(arrays["center"], np.float64)
        self.precision = np.asarray(arrays["precision"], np.float64)


class KNN(RunningMeanDetector):
    """Mean distance to the k nearest successful training steps (a bank of ≤ 2048)."""

    metric = "euclidean"

    def _embed(self, features: np.ndarray) -> np.ndarray:
        z = self.standardize(features).astype(np.float64)
        if self.metric == "cosine":
            z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-9)
        return z

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        bank = _subsample(_success_steps(rollouts), int(self.options.get("bank", 2048)), seed)
        self.bank = self._embed(bank)
        self._bank_sq = (self.bank ** 2).sum(1)

    def _raw(self, features, actions):
        z = self._embed(features)
        k = min(int(self.options.get("k", 5)), len(self.bank))
        if self.metric == "cosine":
            dist = 1.0 - z @ self.bank.T
        else:
            sq = (z * z).sum(1)[:, None] - 2 * z @ self.bank.T + self._bank_sq[None]
            dist = np.sqrt(np.maximum(sq, 0.0))
        nearest = np.partition(dist, k - 1, axis=1)[:, :k]
        return nearest.mean(1)

    def state(self):
        return {**super().state(), "bank": self.bank}

    def _load_state(self, arrays):
        self.bank = np.asarray(arrays["bank"], np.float64)
        self._bank_sq = (self.bank ** 2).sum(1)


class KNNEuclidean(KNN):
    """Euclidean kNN distance (standardised features) to successful training steps."""

    name = "knn_euclidean"
    metric = "euclidean"


class KNNCosine(KNN):
    """Cosine kNN distance (1 − cos) to successful training steps (the paper's best baseline)."""

    name = "knn_cosine"
    metric = "cosine"


class PCAKMeans(RunningMeanDetector):
    """Distance to the nearest k-means centroid after projecting onto the top PCA axes."""

    name = "pca_kmeans"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        z = self.standardize(_success_steps(rollouts)).astype(np.float64)
        self.center = z.mean(0)
        _, _, vt = np.linalg.svd(z - self.center, full_matrices=False)
        n_comp = min(int(self.options.get("components", 16)), vt.shape[0])
        self.axes = vt[:n_comp].T
        p = (z - self.center) @ self.axes
        self.centroids = kmeans(p, int(self.options.get("clusters", 16)), seed)

    def _raw(self, features, actions):
        p = (self.standardize(features).astype(np.float64) - self.center) @ self.axes
        d = ((p[:, None, :] - self.centroids[None]) ** 2).sum(-1)
        return np.sqrt(d.min(1))

    def state(self):
        return {**super().state(), "center": self.center, "axes": self.axes,
                "centroids": self.centroids}

    def _load_state(self, arrays):
        self.center = np.asarray(arrays["center"], np.float64)
        self.axes = np.asarray(arrays["axes"], np.float64)
        self.centroids = np.asarray(arrays["centroids"], np.float64)


def kmeans(x: np.ndarray, k: int, seed: int, iterations: int = 50) -> np.ndarray:
    """Lloyd's k-means with k-means++ seeding; returns [k, d] centroids."""
    rng = np.random.default_rng(seed)
    k = max(1, min(k, len(x)))
    centroids = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None] - np.asarray(centroids)[None]) ** 2).sum(-1), axis=1)
        total = d.sum()
        idx = rng.integers(len(x)) if total <= 0 else rng.choice(len(x), p=d / total)
        centroids.append(x[idx])
    c = np.asarray(centroids, dtype=np.float64)
    for _ in range(iterations):
        assign = ((x[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        new = np.array([x[assign == j].mean(0) if np.any(assign == j) else c[j]
                        for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c


class RND(RunningMeanDetector):
    """Random network distillation: error of a trained predictor of a fixed random net."""

    name = "rnd"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        hidden, out = int(self.options.get("hidden", 128)), int(self.options.get("out", 64))
        target = torch.nn.Sequential(torch.nn.Linear(self.feature_dim, hidden),
                                     torch.nn.ReLU(), torch.nn.Linear(hidden, out))
        pred = torch.nn.Sequential(torch.nn.Linear(self.feature_dim, hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                                   torch.nn.Linear(hidden, out))
        z = torch.from_numpy(self.standardize(_success_steps(rollouts)))
        with torch.no_grad():
            y = target(z)
        opt = torch.optim.Adam(pred.parameters(), lr=float(self.options.get("lr", 1e-3)))
        gen = torch.Generator().manual_seed(seed)
        batch = 256
        for _ in range(int(self.options.get("epochs", 30))):
            for idx in torch.randperm(len(z), generator=gen).split(batch):
                loss = ((pred(z[idx]) - y[idx]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.target = _mlp_arrays(target)
        self.pred = _mlp_arrays(pred)

    def _raw(self, features, actions):
        z = self.standardize(features).astype(np.float64)
        return ((_mlp_forward(self.pred, z) - _mlp_forward(self.target, z)) ** 2).mean(1)

    def state(self):
        s = super().state()
        for prefix, layers in (("target", self.target), ("pred", self.pred)):
            for i, (w, b) in enumerate(layers):
                s[f"{prefix}.{i}.weight"], s[f"{prefix}.{i}.bias"] = w, b
        return s

    def _load_state(self, arrays):
        def layers(prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
            n = sum(1 for k in arrays if k.startswith(prefix + ".") and k.endswith(".weight"))
            return [(np.asarray(arrays[f"{prefix}.{i}.weight"], np.float64),
                     np.asarray(arrays[f"{prefix}.{i}.bias"], np.float64)) for i in range(n)]
        self.target, self.pred = layers("target"), layers("pred")


def _mlp_arrays(seq: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    return [(m.weight.detach().double().numpy().copy(), m.bias.detach().double().numpy().copy())
            for m in seq if isinstance(m, torch.nn.Linear)]


def _mlp_forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


class STAC(RunningMeanDetector):
    """Action-chunk inconsistency: how much consecutive chunks disagree where they overlap.

    Chunk t covers actions t+1..t+H, chunk t-1 covers t..t+H-1 (one inference per step;
    option `stride` when the policy executes several actions per chunk). The mean squared
    difference over the overlap, scaled by the successful rollouts' action spread, is the
    per-step novelty (0 at the first step). A deterministic policy gives one sample per
    step, so this is a distance between consecutive predictions, not STAC's MMD.
    """

    name = "stac"
    needs_actions = True

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        acts = [r.actions for r in rollouts if r.actions is not None and r.actions.ndim == 3]
        if not acts:
            raise ValueError("stac: training rollouts carry no action chunks [T, H, A]")
        stacked = np.concatenate([a.reshape(-1, a.shape[-1]) for a in acts]).astype(np.float64)
        self.action_scale = np.maximum(stacked.std(0), 1e-6)

    def _reset_extra(self) -> None:
        self._prev: np.ndarray | None = None

    def _diff(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        s = int(self.options.get("stride", 1))
        h = cur.shape[-2]
        if s >= h:
            return np.zeros(cur.shape[:-2])
        d = (prev[..., s:, :] - cur[..., : h - s, :]) / self.action_scale
        return (d ** 2).mean(axis=(-1, -2))

    def _raw(self, features, actions):
        a = actions.astype(np.float64)
        raw = np.zeros(len(a))
        raw[1:] = self._diff(a[:-1], a[1:])
        return raw

    def _raw_step(self, feature, chunk):
        cur = chunk.astype(np.float64)
        raw = 0.0 if self._prev is None else float(self._diff(self._prev, cur))
        self._prev = cur
        return raw

    def state(self):
        return {**super().state(), "action_scale": self.action_scale}

    def _load_state(self, arrays):
        self.action_scale = np.asarray(arrays["action_scale"], np.float64)


BASELINES: dict[str, type[Detector]] = {
    cls.name: cls for cls in (TimeOnly, Mahalanobis, KNNEuclidean, KNNCosine, PCAKMeans, RND,
                              STAC)
}
