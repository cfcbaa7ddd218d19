"""LeRobot policies (ACT, Diffusion, SmolVLA, pi0...) behind our `Policy` interface.

LeRobot is an optional extra (`pip install vla_ros[lerobot]`, its own environment: LeRobot
0.4 wants torch < 2.11). `load_lerobot_policy(path)` reads a local `pretrained_model`
directory as written by `lerobot-train` (config.json, model.safetensors and the processor
pipelines with the normalisation statistics) without touching the network. The wrapper
maps our observation to LeRobot's batch (`observation.state`, `observation.images.<cam>`
as float CHW in [0, 1], `task`), runs `predict_action_chunk`, and captures the feature
vector SAFE needs with a forward hook on one submodule (ACT: its transformer decoder).

`LeRobotPolicy` itself only needs an object with `predict_action_chunk(batch)`, so the
mapping is tested without LeRobot installed; the loader is what needs the real package.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import ActionChunk, Observation, Policy, PolicyMetadata

STATE_KEY = "observation.state"
IMAGE_PREFIX = "observation.images."
ACTION_KEY = "action"
# Submodule whose output is the feature vector, per LeRobot policy type.
DEFAULT_FEATURE_MODULES = {"act": "model.decoder", "diffusion": "diffusion.unet.mid_modules",
                           "smolvla": "model.vlm_with_expert", "pi0": "model"}


def _identity(batch: Any) -> Any:
    return batch


def _pool(output: Any) -> np.ndarray | None:
    """A 1-D feature vector from a module output: the first tensor, averaged over all but
    its last axis (ACT's decoder gives (chunk, batch, dim) -> dim)."""
    import torch

    if isinstance(output, (tuple, list)):
        output = next((o for o in output if isinstance(o, torch.Tensor)), None)
    if not isinstance(output, torch.Tensor) or output.ndim == 0:
        return None
    flat = output.detach().float().reshape(-1, output.shape[-1]).mean(dim=0)
    return flat.cpu().numpy().astype(np.float32)


class LeRobotPolicy(Policy):
    """A loaded LeRobot policy (or anything with `predict_action_chunk(batch) -> [1, H, D]`)."""

    def __init__(self, model: Any, metadata: PolicyMetadata, *,
                 preprocess: Callable = _identity, postprocess: Callable = _identity,
                 feature_module: str | None = None, device: str = "cpu") -> None:
        self.model = model
        self._meta = metadata
        self.preprocess, self.postprocess = preprocess, postprocess
        self.device = device
        self._captured: np.ndarray | None = None
        self._hook = None
        if feature_module:
            module = self._submodule(feature_module)
            self._hook = module.register_forward_hook(self._capture)

    def _submodule(self, dotted: str):
        module = self.model
        for part in dotted.split("."):
            if not hasattr(module, part):
                raise PolicyConfigError(
                    f"lerobot policy: no submodule '{dotted}' (stopped at '{part}') for the "
                    "feature hook; set feature_module to one of its named modules")
            module = getattr(module, part)
        if not hasattr(module, "register_forward_hook"):
            raise PolicyConfigError(f"lerobot policy: '{dotted}' is not a torch module")
        return module

    def _capture(self, _module, _inputs, output) -> None:
        self._captured = _pool(output)

    @property
    def metadata(self) -> PolicyMetadata:
        return self._meta

    def reset(self) -> None:
        reset = getattr(self.model, "reset", None)
        if callable(reset):
            reset()

    def batch(self, observation: Observation) -> dict[str, Any]:
        """Our observation as LeRobot's batch of one, on the policy's device."""
        import torch

        state = torch.as_tensor(np.asarray(observation.state, np.float32))[None]
        batch: dict[str, Any] = {STATE_KEY: state.to(self.device),
                                 "task": [observation.instruction]}
        for cam in self._meta.cameras:
            image = torch.from_numpy(np.ascontiguousarray(observation.images[cam]))
            chw = image.permute(2, 0, 1).float().div_(255.0)[None]
            batch[IMAGE_PREFIX + cam] = chw.to(self.device)
        return batch

    def infer(self, observation: Observation) -> ActionChunk:
        import torch

        self.validate(observation)
        self._captured = None
        with torch.inference_mode():
            batch = self.preprocess(self.batch(observation))
            actions = self.model.predict_action_chunk(batch)
            actions = self.postprocess(actions)
        if isinstance(actions, dict):
            actions = actions[ACTION_KEY]
        array = actions.detach().float().cpu().numpy()
        array = array.reshape(-1, array.shape[-1])
        if array.shape[1] != self._meta.action_dim:
            raise PolicyConfigError(
                f"lerobot policy returned {array.shape[1]} action dimensions; the metadata "
                f"names {self._meta.action_dim}: {list(self._meta.action_names)}")
        return ActionChunk(actions=array, names=list(self._meta.action_names), dt=self._meta.dt,
                           features=self._captured, stamp=observation.stamp)

    def close(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None


def _names(given: Sequence[str] | None, dataset_names: Sequence[str] | None, dim: int,
           prefix: str) -> tuple[str, ...]:
    names = list(given or dataset_names or [f"{prefix}_{i}" for i in range(dim)])
    if len(names) != dim:
        raise PolicyConfigError(f"lerobot policy: {len(names)} {prefix} names given for a "
                                f"{dim}-dimensional {prefix}: {names}")
    return tuple(names)


def _dataset_info(dataset: str | None) -> dict:
    if not dataset:
        return {}
    path = Path(dataset) / "meta" / "info.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PolicyConfigError(f"lerobot policy: cannot read {path}: {err}") from None


def _feature_names(info: dict, key: str) -> list[str] | None:
    names = info.get("features", {}).get(key, {}).get("names")
    if isinstance(names, dict):  # LeRobot sometimes nests them: {"motors": [...]}
        names = next(iter(names.values()), None)
    return list(names) if isinstance(names, list) else None


def load_lerobot_policy(path: str | Path, *, device: str = "cpu", dataset: str | None = None,
                        action_names: Sequence[str] | None = None,
                        state_names: Sequence[str] | None = None, fps: float | None = None,
                        feature_module: str | None = None) -> LeRobotPolicy:
    """Load a local LeRobot `pretrained_model` directory (no hub access).

    Names and fps come from `dataset` (our LeRobotDataset's meta/info.json) or are given.
    """
    path = Path(path)
    if not (path / "config.json").is_file():
        raise PolicyConfigError(f"lerobot policy: {path} has no config.json; give the "
                                "pretrained_model directory written by lerobot-train")
    if not (path / "model.safetensors").is_file():
        raise PolicyConfigError(f"lerobot policy: {path} has no model.safetensors "
                                "(pickled checkpoints are not loaded)")
    try:
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors
    except ImportError as err:
        raise PolicyConfigError(
            "policy type 'lerobot' needs LeRobot (pip install 'vla_ros[lerobot]' in an "
            f"environment with torch < 2.11): {err}") from None
    config = PreTrainedConfig.from_pretrained(str(path), local_files_only=True)
    config.device = device
    model = get_policy_class(config.type).from_pretrained(str(path), config=config,
                                                          local_files_only=True)
    model.to(device).eval()
    preprocess, postprocess = make_pre_post_processors(config, pretrained_path=str(path))
    info = _dataset_info(dataset)
    state_dim = int(config.input_features[STATE_KEY].shape[0])
    action_dim = int(config.output_features[ACTION_KEY].shape[0])
    cameras = tuple(k[len(IMAGE_PREFIX):] for k in config.input_features
                    if k.startswith(IMAGE_PREFIX))
    shapes = {tuple(config.input_features[IMAGE_PREFIX + c].shape[1:]) for c in cameras}
    if len(shapes) > 1:
        raise PolicyConfigError(f"lerobot policy: cameras of different sizes {shapes}")
    horizon = int(getattr(config, "n_action_steps", None) or getattr(config, "chunk_size", 1))
    rate = fps or info.get("fps")
    if not rate:
        raise PolicyConfigError("lerobot policy: give fps (or dataset) to know the action dt")
    meta = PolicyMetadata(
        action_names=_names(action_names, _feature_names(info, ACTION_KEY), action_dim, "action"),
        state_names=_names(state_names, _feature_names(info, STATE_KEY), state_dim, "state"),
        cameras=cameras, image_size=shapes.pop() if shapes else (0, 0),  # type: ignore[arg-type]
        horizon=horizon, dt=1.0 / float(rate),
        # ACT's decoder width; other types report 0 ("unknown until the first call").
        feature_dim=int(getattr(config, "dim_model", 0)) if config.type == "act" else 0,
        extra={"lerobot_type": config.type},
    )
    module = feature_module or DEFAULT_FEATURE_MODULES.get(config.type)
    return LeRobotPolicy(model, meta, preprocess=preprocess, postprocess=postprocess,
                         feature_module=module, device=device)


def make_policy(checkpoint: str | None = None, *, path: str | None = None,
                **options: Any) -> LeRobotPolicy:
    """Registry factory for policy type 'lerobot' (`checkpoint` or `path`: the directory)."""
    where = checkpoint or path
    if not where:
        raise PolicyConfigError("lerobot policy needs checkpoint='<pretrained_model dir>'")
    return load_lerobot_policy(where, **options)
