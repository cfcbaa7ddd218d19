"""The built-in VLA network and its configuration (what `config.json` holds).

Per camera a small conv net (GroupNorm, so batch-1 inference equals training behaviour)
ends in a spatial softmax (where things are) plus average pooling (what they look like).
The frozen sentence embedding and the proprioception get their own projections; a small
MLP or transformer trunk fuses the tokens; its last hidden layer is the feature vector
SAFE reads, and a linear head maps it to an H x D chunk of normalised actions.

Sized for CPUs: at 96x96 with the defaults one chunk costs a few milliseconds on 2 cores.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vla_ros.policy.errors import PolicyConfigError

CONFIG_VERSION = 1
TRUNKS = ("mlp", "transformer")

# Architecture presets (VLAConfig overrides): "tiny" trains in seconds (tests, smoke runs).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "tiny": {"conv_channels": (16, 32, 32), "keypoints": 8, "width": 64, "feature_dim": 64,
             "trunk_layers": 1, "dropout": 0.0},
    "transformer": {"trunk": "transformer", "trunk_layers": 2},
    # the shipped checkpoint's size: ~0.45 M parameters, trains on one shared CPU core
    "small": {"conv_channels": (16, 32, 64, 64), "keypoints": 16, "width": 128,
              "feature_dim": 128, "trunk_layers": 2, "dropout": 0.0},
    # small + FiLM: the instruction picks which object the keypoints lock onto
    # and a last conv of stride 1: keypoints on a 2x finer grid (8x8 at 64 px)
    "small_film": {"conv_channels": (16, 32, 64, 64), "conv_strides": (2, 2, 2, 1),
                   "keypoints": 16, "width": 128, "feature_dim": 128, "trunk_layers": 2,
                   "dropout": 0.0, "film": True},
}


@dataclass
class VLAConfig:
    """Architecture and I/O contract of a built-in VLA checkpoint."""

    action_names: list[str]
    state_names: list[str]
    cameras: list[str]
    image_size: tuple[int, int] = (96, 96)  # (height, width)
    horizon: int = 16
    dt: float = 0.1
    text_encoder: str = "minilm"  # "minilm" (384-d) or "hash"
    text_dim: int = 384
    conv_channels: tuple[int, ...] = (32, 64, 128, 128)
    conv_strides: tuple[int, ...] = ()  # per conv layer; () = 2 everywhere
    keypoints: int = 32
    width: int = 256
    trunk: str = "mlp"
    trunk_layers: int = 2
    heads: int = 4
    feature_dim: int = 256
    dropout: float = 0.1
    film: bool = False  # the instruction modulates each camera's last feature map (FiLM)
    version: int = CONFIG_VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (robot, task set)

    def __post_init__(self) -> None:
        self.image_size = tuple(int(v) for v in self.image_size)  # type: ignore[assignment]
        self.conv_channels = tuple(int(v) for v in self.conv_channels)
        self.conv_strides = tuple(int(v) for v in self.conv_strides)
        self.validate()

    def validate(self) -> None:
        problems = []
        for key in ("action_names", "state_names", "cameras"):
            names = getattr(self, key)
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                problems.append(f"{key} must be a list of non-empty strings")
            elif len(set(names)) != len(names):
                problems.append(f"{key} has duplicates: {names}")
        if not self.action_names:
            problems.append("action_names is empty")
        if not self.cameras:
            problems.append("cameras is empty: the built-in VLA needs at least one camera")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            problems.append(f"image_size must be (height, width) >= 16, got {self.image_size}")
        if self.horizon < 1:
            problems.append(f"horizon must be >= 1, got {self.horizon}")
        if not self.dt > 0:
            problems.append(f"dt must be > 0 s, got {self.dt}")
        if self.trunk not in TRUNKS:
            problems.append(f"trunk must be one of {list(TRUNKS)}, got {self.trunk!r}")
        if self.trunk == "transformer" and self.width % self.heads:
            problems.append(f"width {self.width} is not divisible by heads {self.heads}")
        if not self.conv_channels or min(self.conv_channels) < 8:
            problems.append(f"conv_channels must be >= 8 each, got {self.conv_channels}")
        if self.conv_strides and (len(self.conv_strides) != len(self.conv_channels)
                                  or min(self.conv_strides) < 1):
            problems.append(f"conv_strides must be one stride >= 1 per conv layer "
                            f"{self.conv_channels}, got {self.conv_strides}")
        for key in ("keypoints", "width", "feature_dim", "text_dim", "trunk_layers"):
            if int(getattr(self, key)) < 1:
                problems.append(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.version != CONFIG_VERSION:
            problems.append(f"config version {self.version} is not {CONFIG_VERSION}")
        if problems:
            raise PolicyConfigError("invalid VLA config: " + "; ".join(problems))

    @property
    def action_dim(self) -> int:
        return len(self.action_names)

    @property
    def state_dim(self) -> int:
        return len(self.state_names)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["image_size"] = list(self.image_size)
        data["conv_channels"] = list(self.conv_channels)
        data["conv_strides"] = list(self.conv_strides)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VLAConfig:
        """Strict: unknown or missing keys are errors (a typo must not silently default)."""
        if not isinstance(data, Mapping):
            raise PolicyConfigError(f"VLA config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyConfigError(f"unknown VLA config keys {unknown}")
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        missing = [k for k in required if k not in data]
        if missing:
            raise PolicyConfigError(f"VLA config lacks required keys {missing}")
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, PolicyConfigError):
                raise
            raise PolicyConfigError(f"invalid VLA config: {exc}") from exc


class SpatialSoftmax(nn.Module):
    """Feature map → expected (x, y) of K learned keypoints in [-1, 1]: where things are."""

    def __init__(self, channels: int, keypoints: int, height: int, width: int) -> None:
        super().__init__()
        self.detect = nn.Conv2d(channels, keypoints, kernel_size=1)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width),
                                indexing="ij")
        self.register_buffer("grid", torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        heat = self.detect(x).flatten(2).softmax(dim=-1)  # (B, K, HW)
        return (heat @ self.grid).flatten(1)  # (B, 2K)


class CameraEncoder(nn.Module):
    """Strided conv stack → [keypoint coordinates, pooled appearance] → one token.

    With `film`, the instruction scales and shifts the last feature map's channels before
    the spatial softmax (FiLM, as in RT-1), so "the red cube" can decide where the
    keypoints land; initialised to the identity."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels_in = 3
        height, width = cfg.image_size
        strides = cfg.conv_strides or (2,) * len(cfg.conv_channels)
        for i, (channels, stride) in enumerate(zip(cfg.conv_channels, strides, strict=True)):
            kernel = 5 if i == 0 else 3
            layers += [nn.Conv2d(channels_in, channels, kernel, stride=stride,
                                 padding=kernel // 2),
                       nn.GroupNorm(min(8, channels), channels), nn.SiLU()]
            channels_in = channels
            height, width = (height + stride - 1) // stride, (width + stride - 1) // stride
        self.convs = nn.Sequential(*layers)
        self.keypoints = SpatialSoftmax(channels_in, cfg.keypoints, height, width)
        self.project = nn.Linear(2 * cfg.keypoints + channels_in, cfg.width)
        self.film = nn.Linear(cfg.width, 2 * channels_in) if cfg.film else None
        if self.film is not None:
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)

    def forward(self, image: torch.Tensor, text: torch.Tensor | None = None) -> torch.Tensor:
        fmap = self.convs(image)
        if self.film is not None and text is not None:
            scale, shift = self.film(text)[:, :, None, None].chunk(2, dim=1)
            fmap = fmap * (1.0 + scale) + shift
        return self.project(torch.cat([self.keypoints(fmap), fmap.mean(dim=(2, 3))], dim=1))


class ResidualMLP(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.SiLU(),
                                   nn.Dropout(dropout), nn.Linear(2 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class VLANet(nn.Module):
    """(images [B, C, 3, H, W] uint8-scaled floats, state [B, S], text [B, T]) →
    (normalised actions [B, H, D], features [B, F])."""

    def __init__(self, cfg: VLAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.cameras = nn.ModuleList(CameraEncoder(cfg) for _ in cfg.cameras)
        self.text = nn.Linear(cfg.text_dim, cfg.width)
        self.state = nn.Sequential(nn.Linear(max(cfg.state_dim, 1), cfg.width), nn.SiLU(),
                                   nn.Linear(cfg.width, cfg.width))
        tokens = len(cfg.cameras) + 2
        if cfg.trunk == "mlp":
            self.fuse = nn.Linear(tokens * cfg.width, cfg.width)
            self.trunk = nn.Sequential(*(ResidualMLP(cfg.width, cfg.dropout)
                                         for _ in range(cfg.trunk_layers)))
        else:
            self.token_type = nn.Parameter(torch.zeros(tokens + 1, cfg.width))
            nn.init.normal_(self.token_type, std=0.02)
            layer = nn.TransformerEncoderLayer(cfg.width, cfg.heads, 2 * cfg.width, cfg.dropout,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
            self.trunk = nn.TransformerEncoder(layer, cfg.trunk_layers,
                                               enable_nested_tensor=False)
        self.feature = nn.Sequential(nn.LayerNorm(cfg.width), nn.Linear(cfg.width, cfg.feature_dim),
                                     nn.SiLU())
        self.head = nn.Linear(cfg.feature_dim, cfg.horizon * cfg.action_dim)
        self.register_buffer("pixel_mean", torch.full((1, 3, 1, 1), 0.5), persistent=False)
        self.register_buffer("pixel_std", torch.full((1, 3, 1, 1), 0.25), persistent=False)

    def forward(self, images: torch.Tensor, state: torch.Tensor,
                text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        text_token = self.text(text)
        tokens = [enc((images[:, i] - self.pixel_mean) / self.pixel_std, text_token)
                  for i, enc in enumerate(self.cameras)]
        if state.shape[1] == 0:  # a policy without proprioception still gets a state token
            state = torch.zeros(state.shape[0], 1, dtype=images.dtype, device=images.device)
        tokens += [text_token, self.state(state)]
        if self.cfg.trunk == "mlp":
            hidden = self.trunk(self.fuse(torch.cat(tokens, dim=1)))
        else:
            seq = torch.stack([torch.zeros_like(tokens[0]), *tokens], dim=1) + self.token_type
            hidden = self.trunk(seq)[:, 0]  # the readout token
        features = self.feature(hidden)
        actions = self.head(features).view(-1, self.cfg.horizon, self.cfg.action_dim)
        return actions, features


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def image_batch(images: Sequence[Any]) -> torch.Tensor:
    """Stack per-camera HxWx3 uint8 arrays into a (1, C, 3, H, W) float tensor in [0, 1]."""
    stacked = torch.stack([torch.from_numpy(img) for img in images])  # (C, H, W, 3)
    return stacked.permute(0, 3, 1, 2).unsqueeze(0).float().div_(255.0)
