"""SAFE detectors: a per-step MLP with a cumulative score, and an LSTM over the episode.

Both read the policy's last-layer features, are trained with torch (Adam, explicit L2
penalty, inverse class-frequency weights) on seen-task rollouts labelled success/failure,
and score with numpy at run time (weights copied out after training).

- SAFE-MLP: p_t = sigmoid(MLP(x_t)), s_t = Σ_{τ≤t} p_τ. Loss per rollout with label y
  (1 = failure): Σ_t [y·(t − s_t) + (1 − y)·s_t] / Σ_t t  (t counted from 1), which pushes
  a failing rollout's score to grow as fast as time and a successful one's to stay at 0;
  dividing by Σ_t t puts every rollout's loss in [0, 1] whatever its length.
- SAFE-LSTM: one-layer LSTM (hidden 256) + sigmoid head; s_t = p_t, per-step binary
  cross-entropy against the rollout's label.
"""

from __future__ import annotations

import numpy as np

from vla_ros.safety.detector import Detector
from vla_ros.safety.rollouts import Rollout


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _class_weights(labels: np.ndarray) -> np.ndarray:
    """Inverse class frequency, normalised so a balanced set gets weight 1 everywhere."""
    n = len(labels)
    pos = max(int(labels.sum()), 1)
    neg = max(n - int(labels.sum()), 1)
    return np.where(labels == 1, n / (2.0 * pos), n / (2.0 * neg))


class _TorchTrained(Detector):
    supervised = True

    def _batch(self, rollouts: list[Rollout]):
        import torch

        t_max = max(r.length for r in rollouts)
        x = np.zeros((len(rollouts), t_max, self.feature_dim), np.float32)
        mask = np.zeros((len(rollouts), t_max), np.float32)
        for i, r in enumerate(rollouts):
            x[i, : r.length] = self.standardize(r.features)
            mask[i, : r.length] = 1.0
        y = np.array([r.label for r in rollouts], np.float32)
        w = _class_weights(y).astype(np.float32)
        return (torch.from_numpy(x), torch.from_numpy(mask), torch.from_numpy(y),
                torch.from_numpy(w))

    def _train(self, model, loss_fn, rollouts: list[Rollout], seed: int, epochs: int,
               batch_size: int) -> None:
        import torch

        x, mask, y, w = self._batch(rollouts)
        lr = float(self.options.get("lr", 1e-3))
        l2 = float(self.options.get("l2", 1e-4))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        weights = [p for n, p in model.named_parameters() if "bias" not in n]
        for _ in range(epochs):
            for idx in torch.randperm(len(x), generator=gen).split(batch_size):
                loss = loss_fn(model, x[idx], mask[idx], y[idx], w[idx])
                loss = loss + l2 * sum((p ** 2).sum() for p in weights)
                opt.zero_grad()
                loss.backward()
                opt.step()


class SafeMLP(_TorchTrained):
    """SAFE-MLP: cumulative sum of a per-step failure probability."""

    name = "safe_mlp"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        hidden = int(self.options.get("hidden", 256))
        model = torch.nn.Sequential(torch.nn.Linear(self.feature_dim, hidden), torch.nn.ReLU(),
                                    torch.nn.Linear(hidden, 1))

        def loss_fn(m, x, mask, y, w):
            p = torch.sigmoid(m(x)).squeeze(-1) * mask
            s = torch.cumsum(p, dim=1)
            t = torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[None] * mask
            per_step = y[:, None] * (t - s) + (1 - y[:, None]) * s
            per_rollout = (per_step * mask).sum(1) / t.sum(1)
            return (w * per_rollout).sum() / w.sum()

        self._train(model, loss_fn, rollouts, seed, int(self.options.get("epochs", 300)),
                    int(self.options.get("batch_size", 64)))
        self.w1 = model[0].weight.detach().double().numpy().copy()
        self.b1 = model[0].bias.detach().double().numpy().copy()
        self.w2 = model[2].weight.detach().double().numpy().reshape(-1).copy()
        self.b2 = float(model[2].bias.detach().double().item())

    def step_probability(self, z: np.ndarray) -> np.ndarray:
        """p_t for standardised features [T, D]."""
        h = np.maximum(z.astype(np.float64) @ self.w1.T + self.b1, 0.0)
        return _sigmoid(h @ self.w2 + self.b2)

    def reset(self) -> None:
        self._sum = 0.0

    def _update(self, feature, chunk):
        self._sum += float(self.step_probability(self.standardize(feature)[None])[0])
        return self._sum

    def _scores(self, features, actions):
        return np.cumsum(self.step_probability(self.standardize(features)))

    def state(self):
        return {**super().state(), "w1": self.w1, "b1": self.b1, "w2": self.w2,
                "b2": np.array([self.b2])}

    def _load_state(self, arrays):
        self.w1 = np.asarray(arrays["w1"], np.float64)
        self.b1 = np.asarray(arrays["b1"], np.float64)
        self.w2 = np.asarray(arrays["w2"], np.float64)
        self.b2 = float(np.asarray(arrays["b2"]).reshape(-1)[0])


class SafeLSTM(_TorchTrained):
    """SAFE-LSTM: failure probability from an LSTM that has read the episode so far."""

    name = "safe_lstm"

    def _fit(self, rollouts: list[Rollout], seed: int) -> None:
        import torch

        torch.manual_seed(seed)
        hidden = int(self.options.get("hidden", 256))
        model = _LSTMHead(self.feature_dim, hidden)

        def loss_fn(m, x, mask, y, w):
            logits = m(x)
            target = y[:, None].expand_as(logits)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, target, reduction="none")
            per_rollout = (bce * mask).sum(1) / mask.sum(1)
            return (w * per_rollout).sum() / w.sum()

        self._train(model, loss_fn, rollouts, seed, int(self.options.get("epochs", 100)),
                    int(self.options.get("batch_size", 32)))
        lstm = model.lstm
        self.w_ih = lstm.weight_ih_l0.detach().double().numpy().copy()
        self.w_hh = lstm.weight_hh_l0.detach().double().numpy().copy()
        self.b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double().numpy().copy()
        self.w_out = model.head.weight.detach().double().numpy().reshape(-1).copy()
        self.b_out = float(model.head.bias.detach().double().item())
        self._torch_model = model  # kept for the numpy-vs-torch equivalence test

    def reset(self) -> None:
        hidden = self.w_hh.shape[1]
        self._h = np.zeros(hidden)
        self._c = np.zeros(hidden)

    def _cell(self, gates_x: np.ndarray) -> float:
        n = self._h.size
        g = gates_x + self.w_hh @ self._h
        i, f = _sigmoid(g[:n]), _sigmoid(g[n:2 * n])
        cand, o = np.tanh(g[2 * n:3 * n]), _sigmoid(g[3 * n:])
        self._c = f * self._c + i * cand
        self._h = o * np.tanh(self._c)
        return float(_sigmoid(self._h @ self.w_out + self.b_out))

    def _update(self, feature, chunk):
        z = self.standardize(feature).astype(np.float64)
        return self._cell(self.w_ih @ z + self.b)

    def _scores(self, features, actions):
        gates = self.standardize(features).astype(np.float64) @ self.w_ih.T + self.b
        saved = (self._h, self._c)
        self.reset()
        out = np.array([self._cell(g) for g in gates])
        self._h, self._c = saved
        return out

    def state(self):
        return {**super().state(), "w_ih": self.w_ih, "w_hh": self.w_hh, "b": self.b,
                "w_out": self.w_out, "b_out": np.array([self.b_out])}

    def _load_state(self, arrays):
        self.w_ih = np.asarray(arrays["w_ih"], np.float64)
        self.w_hh = np.asarray(arrays["w_hh"], np.float64)
        self.b = np.asarray(arrays["b"], np.float64)
        self.w_out = np.asarray(arrays["w_out"], np.float64)
        self.b_out = float(np.asarray(arrays["b_out"]).reshape(-1)[0])


def _LSTMHead(feature_dim: int, hidden: int):  # noqa: N802 - a class factory (lazy torch)
    import torch

    class LSTMHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(feature_dim, hidden, num_layers=1, batch_first=True)
            self.head = torch.nn.Linear(hidden, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out).squeeze(-1)

    return LSTMHead()
