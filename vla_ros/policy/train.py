"""Train the built-in VLA by behaviour cloning on action chunks, on CPU or CUDA.

`train_policy(source, out_dir, TrainConfig(...))` loads every episode into memory, fits
normalisation stats (the dataset's meta/stats.json when present), and minimises the L1
error of normalised action chunks (padding masked, as in ACT) with AdamW and a cosine
schedule, light image augmentation on. It writes a checkpoint folder (config.json,
model.safetensors, normalization.json, train_info.json) and loss_curve.png into `out_dir`.
The instruction encoder is frozen, so each distinct task is embedded once up front.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.policy.checkpoint import load_checkpoint, save_checkpoint
from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.samples import (
    ChunkSamples,
    EpisodeSource,
    augment_images,
    dataset_normalizer,
    fit_image_size,
    names_or_default,
)
from vla_ros.policy.text import generic_object_instruction, text_encoder
from vla_ros.policy.vla import resolve_device
from vla_ros.policy.vla_model import VLAConfig, VLANet, parameter_count


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    grad_clip: float = 1.0
    horizon: int = 16
    image_size: tuple[int, int] | None = None  # None: the dataset's, capped at 128 px
    text_encoder: str = "minilm"
    augment: bool = True
    # share of training samples whose instruction names the object generically ("the red
    # object"; text.generic_object_instruction): grounds objects by colour, not by the
    # shape a verb happened to be trained with. 0 = instructions as recorded
    generic_object_prob: float = 0.0
    val_fraction: float = 0.1  # episodes held out for a validation loss (if >= 5 episodes)
    eval_every: int = 100
    val_samples: int = 1024  # validation frames evaluated (evenly spaced), bounding its cost
    device: str = "cpu"
    time_budget_s: float | None = None  # stop (and anneal the learning rate) by wall clock
    seed: int = 0
    progress: bool = True
    model: dict[str, Any] = field(default_factory=dict)  # VLAConfig overrides (width, trunk…)
    init_from: str | None = None  # fine-tune: start from this checkpoint (its architecture,
    # image size, horizon and normalisation; the dataset must have its names and cameras)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise PolicyConfigError(f"steps and batch_size must be >= 1, got {self.steps}, "
                                    f"{self.batch_size}")
        if not self.lr > 0:
            raise PolicyConfigError(f"lr must be > 0, got {self.lr}")
        if not 0 <= self.generic_object_prob <= 1:
            raise PolicyConfigError(f"generic_object_prob must be in [0, 1], got "
                                    f"{self.generic_object_prob}")
        if not 0 <= self.val_fraction < 1:
            raise PolicyConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        known = {f.name for f in dataclasses.fields(VLAConfig)}
        fixed = {"action_names", "state_names", "cameras", "image_size", "horizon", "dt",
                 "text_encoder", "text_dim"}
        bad = sorted(set(self.model) - (known - fixed))
        if bad:
            raise PolicyConfigError(f"model overrides {bad} are not settable; allowed: "
                                    f"{sorted(known - fixed)}")


@dataclass
class TrainResult:
    checkpoint: Path
    losses: list[float]  # training loss per step
    val_losses: list[tuple[int, float]]  # (step, validation loss)
    seconds: float
    config: VLAConfig

    @property
    def first_loss(self) -> float:
        return float(np.mean(self.losses[: max(1, len(self.losses) // 10)]))

    @property
    def final_loss(self) -> float:
        return float(np.mean(self.losses[-max(1, len(self.losses) // 10):]))


def split_episodes(count: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out whole episodes (never frames of a training episode) for validation."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    n_val = int(round(count * val_fraction)) if count >= 5 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def chunk_loss(pred: torch.Tensor, target: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
    """Mean L1 over real (not padded) steps of normalised action chunks."""
    keep = (~pad).unsqueeze(-1).to(pred.dtype)
    return ((pred - target).abs() * keep).sum() / (keep.sum() * pred.shape[-1]).clamp_min(1.0)


def build_config(source: EpisodeSource, cfg: TrainConfig, text_dim: int) -> VLAConfig:
    first = source.episode(0)
    cam0 = np.asarray(first.frames[source.cameras[0]][0]) if source.cameras else None
    image_size = cfg.image_size or (fit_image_size(*cam0.shape[:2]) if cam0 is not None
                                    else (96, 96))
    state_dim, action_dim = np.shape(first.states)[1], np.shape(first.actions)[1]
    return VLAConfig(
        action_names=names_or_default(source.action_names, action_dim, "action"),
        state_names=names_or_default(source.state_names, state_dim, "state"),
        cameras=list(source.cameras), image_size=tuple(image_size), horizon=cfg.horizon,
        dt=1.0 / float(source.fps), text_encoder=cfg.text_encoder, text_dim=text_dim,
        **cfg.model,
    )


def train_policy(source: EpisodeSource, out_dir: str | Path, cfg: TrainConfig | None = None,
                 extra_info: Mapping[str, Any] | None = None) -> TrainResult:
    """Train on every episode of `source`; write the checkpoint and loss curve to `out_dir`."""
    cfg = cfg or TrainConfig()
    if source.num_episodes < 1:
        raise PolicyConfigError("the dataset holds no episodes")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    init = load_checkpoint(cfg.init_from) if cfg.init_from else None
    encoder = text_encoder(init.config.text_encoder if init else cfg.text_encoder)
    vla_cfg = init.config if init else build_config(source, cfg, encoder.dim)
    if init is not None:
        check_fine_tune(init.config, build_config(source, dataclasses.replace(
            cfg, model={}, text_encoder=init.config.text_encoder), encoder.dim), init.path)

    train_eps, val_eps = split_episodes(source.num_episodes, cfg.val_fraction, cfg.seed)
    train = ChunkSamples(source, train_eps, vla_cfg.horizon, vla_cfg.image_size)
    val = ChunkSamples(source, val_eps, vla_cfg.horizon, vla_cfg.image_size) if val_eps else None
    # fine-tuning keeps the checkpoint's statistics: its weights expect that scaling
    normalizer = init.normalizer if init else dataset_normalizer(source, train)
    tasks = sorted(set(train.task_names) | set(val.task_names if val else []))
    # rows [0, n): the instructions as recorded (validation uses only these); rows
    # [n, 2n): their generic-object forms, swapped in with cfg.generic_object_prob
    texts = tasks + [generic_object_instruction(t) for t in tasks]
    text_table = torch.from_numpy(np.stack([encoder.encode(t) for t in texts])).to(device)
    train.task_index = _reindex(train, tasks)
    if val is not None:
        val.task_index = _reindex(val, tasks)

    model = VLANet(vla_cfg)
    if init is not None:
        model.load_state_dict(init.state_dict)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    factor = _cosine(cfg.warmup_steps, cfg.steps)
    losses: list[float] = []
    val_losses: list[tuple[int, float]] = []
    start = time.perf_counter()
    interrupted = False
    bar = _progress(cfg)
    try:
        for step in range(cfg.steps):
            elapsed = time.perf_counter() - start
            if cfg.time_budget_s is not None and elapsed >= cfg.time_budget_s:
                break  # the schedule below has annealed already
            # progress: steps or wall clock, whichever budget runs out first
            progress = step / cfg.steps
            if cfg.time_budget_s is not None and step >= cfg.warmup_steps:
                progress = max(progress, elapsed / cfg.time_budget_s)
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * factor(step, progress)
            model.train()
            idx = rng.integers(0, len(train), size=cfg.batch_size)
            batch = train.batch(idx, normalizer, text_table, device)
            if cfg.generic_object_prob > 0:
                generic = rng.random(len(idx)) < cfg.generic_object_prob
                rows = train.task_index[idx] + generic * len(tasks)
                batch["text"] = text_table[torch.from_numpy(rows).to(device)]
            images = augment_images(batch["images"], generator) if cfg.augment else batch["images"]
            pred, _ = model(images, batch["state"], batch["text"])
            loss = chunk_loss(pred, batch["actions"], batch["pad"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            if val is not None and (step + 1) % cfg.eval_every == 0:
                val_losses.append((step + 1, evaluate(model, val, normalizer, text_table, device,
                                                           limit=cfg.val_samples)))
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or step + 1 == cfg.steps:
                    post = {"loss": f"{losses[-1]:.4f}"}
                    if val_losses:
                        post["val"] = f"{val_losses[-1][1]:.4f}"
                    bar.set_postfix(post)
    except KeyboardInterrupt:
        interrupted = True  # keep what was learned so far
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    if val is not None and losses and (not val_losses or val_losses[-1][0] != len(losses)):
        val_losses.append((len(losses), evaluate(model, val, normalizer, text_table, device,
                                                 limit=cfg.val_samples)))
    if not losses:
        raise PolicyConfigError("training was interrupted before the first step")
    out = Path(out_dir)
    info = {
        "steps": len(losses), "interrupted": interrupted, "seconds": round(seconds, 2),
        "device": str(device), "train_episodes": len(train_eps), "val_episodes": len(val_eps),
        "samples": len(train), "parameters": parameter_count(model), "tasks": tasks,
        "final_loss": float(np.mean(losses[-max(1, len(losses) // 10):])),
        "val_losses": val_losses, "train_config": _jsonable(dataclasses.asdict(cfg)),
        **dict(extra_info or {}),
    }
    save_checkpoint(out, vla_cfg, model.state_dict(), normalizer, info)
    plot_losses(losses, val_losses, out / "loss_curve.png")
    if interrupted:
        raise KeyboardInterrupt(f"training interrupted after {len(losses)} steps; "
                                f"checkpoint saved to {out}")
    return TrainResult(out, losses, val_losses, seconds, vla_cfg)


def check_fine_tune(ckpt: VLAConfig, data: VLAConfig, where: Path) -> None:
    """The dataset must feed the checkpoint what it was built for (names, cameras, rate)."""
    problems = [f"{key}: checkpoint {getattr(ckpt, key)} vs dataset {getattr(data, key)}"
                for key in ("action_names", "state_names", "cameras")
                if list(getattr(ckpt, key)) != list(getattr(data, key))]
    if abs(ckpt.dt - data.dt) > 1e-9:
        problems.append(f"dt: checkpoint {ckpt.dt} s vs dataset {data.dt} s")
    if problems:
        raise PolicyConfigError(f"cannot fine-tune {where} on this dataset: "
                                + "; ".join(problems))


@torch.no_grad()
def evaluate(model: VLANet, samples: ChunkSamples, normalizer, text_table: torch.Tensor,
             device: torch.device, batch_size: int = 256, limit: int | None = None) -> float:
    """Mean chunk loss over the samples (at most `limit`, evenly spaced; no augmentation,
    dropout off)."""
    model.eval()
    total, count = 0.0, 0
    chosen = np.arange(len(samples))
    if limit is not None and len(chosen) > limit:
        chosen = np.linspace(0, len(samples) - 1, limit).round().astype(np.int64)
    for begin in range(0, len(chosen), batch_size):
        idx = chosen[begin:begin + batch_size]
        batch = samples.batch(idx, normalizer, text_table, device)
        pred, _ = model(batch["images"], batch["state"], batch["text"])
        total += float(chunk_loss(pred, batch["actions"], batch["pad"])) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def plot_losses(losses: Sequence[float], val_losses: Sequence[tuple[int, float]],
                path: Path) -> Path:
    """Training loss (raw and smoothed) and validation loss against step, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    steps = np.arange(1, len(losses) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="train (step)")
    window = max(1, len(losses) // 50)
    if window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, color="tab:blue", label=f"train (mean of {window})")
    if val_losses:
        vs, vl = zip(*val_losses, strict=True)
        ax.plot(vs, vl, "o-", color="tab:orange", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("L1 loss (normalised actions)")
    if min(losses) > 0:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _reindex(samples: ChunkSamples, tasks: list[str]) -> np.ndarray:
    lookup = {t: i for i, t in enumerate(tasks)}
    return np.array([lookup[samples.task_names[i]] for i in samples.task_index], dtype=np.int64)


def _cosine(warmup: int, total: int):
    """Linear warm-up over `warmup` steps, then cosine from 1 to 0.05 over `progress`."""

    def factor(step: int, progress: float | None = None) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if progress is None:
            progress = step / max(1, total)
        span = 1.0 - warmup / max(1, total)
        rest = (progress - warmup / max(1, total)) / max(span, 1e-9)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(max(rest, 0.0), 1.0)))

    return factor


def _progress(cfg: TrainConfig):
    if not cfg.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.steps, desc="train", unit="step", dynamic_ncols=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
