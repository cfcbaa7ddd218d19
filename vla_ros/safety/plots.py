"""Figures for `vla-ros safety eval`: score curves against the band, and ROC curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vla_ros.safety.conformal import ConformalBand  # noqa: E402
from vla_ros.safety.metrics import roc_auc, roc_curve, truncated_max  # noqa: E402


def plot_score_curves(path: Path, title: str, curves: Sequence, labels: Sequence[int],
                      band: ConformalBand, max_each: int = 12) -> Path:
    """Successes (blue) and failures (red) with the conformal band (black) and alarms (x)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    shown = {0: 0, 1: 0}
    longest = 1
    for c, y in zip(curves, labels, strict=True):
        if shown[y] >= max_each:
            continue
        shown[y] += 1
        longest = max(longest, len(c))
        ax.plot(c, color="tab:red" if y else "tab:blue", alpha=0.5, lw=1)
        k = band.first_alarm(c)
        if k is not None:
            ax.plot([k], [c[k]], "x", color="black", ms=5)
    ax.plot(band.upper_curve(longest), color="black", lw=2,
            label=f"conformal band (alpha={band.alpha})")
    ax.plot([], [], color="tab:blue", label="success")
    ax.plot([], [], color="tab:red", label="failure")
    ax.set_xlabel("step (inference call)")
    ax.set_ylabel("failure score")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_roc(path: Path, title: str, per_detector: dict[str, tuple[Sequence, Sequence[int]]]
             ) -> Path:
    """ROC of the truncated max-so-far score, one line per detector."""
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (curves, labels) in per_detector.items():
        scores = truncated_max(curves)
        fpr, tpr = roc_curve(scores, labels)
        ax.plot(fpr, tpr, lw=1.5, label=f"{name} ({roc_auc(scores, labels):.2f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
