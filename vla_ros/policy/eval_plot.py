"""eval.png for `vla-ros eval`: per task, how the episodes ended, with the success rate's
95 % interval, so a glance shows which tasks fail, how, and whether two runs differ by more
than chance (with 30–40 episodes a task, ±15 points is noise)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from vla_ros.sim import target_trace

OUTCOMES = ("success",) + target_trace.PHASES + ("failure (untraced)",)
COLORS = ("tab:green", "tab:red", "tab:orange", "gold", "tab:gray")  # worst phase reddest


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a success rate (stays inside [0, 1] at 0 % or 100 %)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def outcome_counts(results: Sequence) -> dict[str, int]:
    """Episodes per `OUTCOMES` entry (EpisodeResult-like: .success, .target)."""
    failures = [r for r in results if not r.success]
    traced = [r.target for r in failures if r.target is not None]
    return {"success": len(results) - len(failures), **target_trace.phase_counts(traced),
            OUTCOMES[-1]: len(failures) - len(traced)}


def plot_eval(summaries: Sequence, path: Path, title: str = "") -> Path:
    """Stacked bars of episode outcomes per task (shares of its episodes) and the success
    rate's Wilson 95 % interval; the split is in each task's label."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    labels = [f"{s.task} ({s.split})" for s in summaries]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(summaries) + 1.6), dpi=100)
    left = [0.0] * len(summaries)
    counts = [outcome_counts(s.results) for s in summaries]
    sizes = [max(len(s.results), 1) for s in summaries]
    for outcome, color in zip(OUTCOMES, COLORS, strict=True):
        widths = [c[outcome] / n for c, n in zip(counts, sizes, strict=True)]
        if any(widths):
            ax.barh(labels, widths, left=left, color=color, label=outcome)
        left = [a + w for a, w in zip(left, widths, strict=True)]
    for i, (c, s) in enumerate(zip(counts, summaries, strict=True)):
        lo, hi = wilson_interval(c["success"], len(s.results))
        ax.plot([lo, hi], [i, i], color="black", lw=1.5)
        ax.text(1.01, i, f"{c['success']}/{len(s.results)}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of episodes (black: 95 % interval of the success rate)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0 if not title else 1.06),
              ncol=len(OUTCOMES), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
