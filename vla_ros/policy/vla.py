"""The built-in VLA as a `Policy`: checkpoint in, action chunks and SAFE features out.

One call = validate the observation, normalise, one forward pass, un-normalise. The
instruction's sentence embedding comes from an LRU cache, so the language model costs
nothing per step. `backend` picks how the network runs: plain eager PyTorch (the default:
fastest at batch 1 on CPU, see bench/policy.py), a frozen TorchScript trace (`jit`) or
`torch.compile` (`compile`).
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.policy.checkpoint import check_state_dict, load_checkpoint, save_checkpoint
from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata
from vla_ros.policy.normalize import Normalizer, Stats
from vla_ros.policy.text import text_encoder
from vla_ros.policy.vla_model import VLAConfig, VLANet, image_batch

BACKENDS = ("eager", "jit", "compile")
DEFAULT_BACKEND = "eager"
DEFAULT_CHECKPOINT = "checkpoints/default"

Runner = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:N' or 'auto'; asking for CUDA without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise PolicyConfigError(
            f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PolicyConfigError(f"device {device!r} requested but CUDA is not available here")
    if dev.type not in ("cpu", "cuda"):
        raise PolicyConfigError(f"device {device!r} is not supported; use cpu or cuda")
    return dev


def default_checkpoint_path() -> Path:
    """The checkpoint shipped with vla_ros (source tree or installed share folder)."""
    from vla_ros.assets import PACKAGE_ROOT, AssetError, share_dir

    try:
        return share_dir("vla_ros") / DEFAULT_CHECKPOINT
    except AssetError:
        return PACKAGE_ROOT / DEFAULT_CHECKPOINT


class BuiltinVLAPolicy(Policy):
    """The built-in VLA network behind the `Policy` interface."""

    def __init__(self, model: VLANet, normalizer: Normalizer, *, device: str = "cpu",
                 backend: str = DEFAULT_BACKEND, checkpoint_path: Path | None = None) -> None:
        cfg = model.cfg
        normalizer.check_dims(cfg.state_dim, cfg.action_dim)
        if backend not in BACKENDS:
            raise PolicyConfigError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
        self.config = cfg
        self.normalizer = normalizer
        self.device = resolve_device(device)
        self.backend = backend
        self.checkpoint_path = checkpoint_path
        self.model = model.to(self.device).eval()
        self.text = text_encoder(cfg.text_encoder, cfg.text_dim)
        if self.text.dim != cfg.text_dim:
            raise PolicyConfigError(f"text encoder {cfg.text_encoder!r} gives {self.text.dim}-d "
                                    f"vectors, the model expects text_dim={cfg.text_dim}")
        self._text_tensors: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._runner: Runner | None = None
        self._meta = PolicyMetadata(
            action_names=tuple(cfg.action_names), state_names=tuple(cfg.state_names),
            cameras=tuple(cfg.cameras), image_size=tuple(cfg.image_size), horizon=cfg.horizon,
            dt=cfg.dt, feature_dim=cfg.feature_dim,
            extra={"type": "builtin", "backend": backend, "device": str(self.device),
                   "checkpoint": str(checkpoint_path) if checkpoint_path else ""},
        )
        self.last_latency_s = float("nan")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, *, device: str = "cpu",
                        backend: str = DEFAULT_BACKEND) -> BuiltinVLAPolicy:
        """Load a checkpoint folder (default: the shipped one); CheckpointError if unusable."""
        ckpt = load_checkpoint(path if path else default_checkpoint_path())
        model = VLANet(ckpt.config)
        check_state_dict(model.state_dict(), ckpt.state_dict, ckpt.path / "model.safetensors")
        model.load_state_dict(ckpt.state_dict)
        return cls(model, ckpt.normalizer, device=device, backend=backend,
                   checkpoint_path=ckpt.path)

    @classmethod
    def untrained(cls, config: VLAConfig, normalizer: Normalizer | None = None, *,
                  seed: int = 0, **kwargs: Any) -> BuiltinVLAPolicy:
        """Randomly initialised policy (tests, benchmarks, smoke runs)."""
        torch.manual_seed(seed)
        normalizer = normalizer or Normalizer(Stats.identity(config.state_dim),
                                              Stats.identity(config.action_dim))
        return cls(VLANet(config), normalizer, **kwargs)

    def save(self, folder: str | Path, info: dict[str, Any] | None = None) -> Path:
        return save_checkpoint(folder, self.config, self.model.state_dict(), self.normalizer,
                               info)

    # ------------------------------------------------------------------ inference
    @property
    def metadata(self) -> PolicyMetadata:
        return self._meta

    def reset(self) -> None:
        """The network is stateless between calls; nothing to forget."""

    def infer(self, observation: Observation) -> ActionChunk:
        start = time.perf_counter()
        self.validate(observation)
        cfg = self.config
        images = image_batch([observation.images[c] for c in cfg.cameras]).to(self.device)
        state = torch.from_numpy(self.normalizer.normalize_state(observation.state)[None])
        text = self.text_tensor(observation.instruction)
        with torch.inference_mode():
            actions, features = self.runner(images, state.to(self.device), text)
        chunk = ActionChunk(
            actions=self.normalizer.unnormalize_action(actions[0].float().cpu().numpy()),
            names=list(cfg.action_names), dt=cfg.dt,
            features=features[0].float().cpu().numpy(), stamp=float(observation.stamp),
        )
        self.last_latency_s = time.perf_counter() - start
        return chunk

    def text_tensor(self, instruction: str) -> torch.Tensor:
        """(1, text_dim) embedding on the policy's device, cached per instruction."""
        tensor = self._text_tensors.get(instruction)
        if tensor is None:
            vec = np.asarray(self.text.encode(instruction), dtype=np.float32)
            tensor = torch.from_numpy(vec.copy())[None].to(self.device)
            self._text_tensors[instruction] = tensor
            while len(self._text_tensors) > self.text.capacity:
                self._text_tensors.popitem(last=False)
        else:
            self._text_tensors.move_to_end(instruction)
        return tensor

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            self._runner = self._build_runner()
        return self._runner

    def _build_runner(self) -> Runner:
        if self.backend == "eager":
            return self.model
        cfg = self.config
        example = (torch.zeros(1, len(cfg.cameras), 3, *cfg.image_size, device=self.device),
                   torch.zeros(1, cfg.state_dim, device=self.device),
                   torch.zeros(1, cfg.text_dim, device=self.device))
        if self.backend == "jit":  # deprecated in torch 2.x but still fast; benched
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(self.model, example, check_trace=False)
                return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        compiled = torch.compile(self.model, dynamic=False)
        with torch.inference_mode():
            compiled(*example)  # compile now, not in the first control step
        return compiled


def make_policy(checkpoint: str | Path | None = None, device: str = "cpu",
                backend: str = DEFAULT_BACKEND, **unused: Any) -> BuiltinVLAPolicy:
    """Registry factory for policy type 'builtin'."""
    if unused:
        raise PolicyConfigError(f"builtin policy: unknown options {sorted(unused)} "
                                "(it takes checkpoint, device, backend)")
    return BuiltinVLAPolicy.from_checkpoint(checkpoint or None, device=device, backend=backend)
