"""The LeRobot adapter: batch mapping, feature hook and errors (LeRobot itself optional)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from torch import nn

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import Observation, PolicyMetadata
from vla_ros.policy.lerobot import LeRobotPolicy, load_lerobot_policy, make_policy
from vla_ros.policy.registry import make_policy as make_any_policy

HAVE_LEROBOT = importlib.util.find_spec("lerobot") is not None


class TinyChunkModel(nn.Module):
    """Shaped like a LeRobot policy: predict_action_chunk(batch) -> [1, H, D]."""

    def __init__(self, state_dim=3, action_dim=2, horizon=4, width=5):
        super().__init__()
        self.horizon = horizon
        self.encoder = nn.Linear(state_dim + 3, width)
        self.decoder = nn.Linear(width, width)
        self.head = nn.Linear(width, action_dim)
        self.resets = 0
        self.seen: dict = {}

    def reset(self):
        self.resets += 1

    def predict_action_chunk(self, batch):
        self.seen = batch
        colour = batch["observation.images.scene"].mean(dim=(2, 3))
        hidden = self.decoder(torch.tanh(self.encoder(
            torch.cat([batch["observation.state"], colour], dim=1))))
        return self.head(hidden)[:, None, :].repeat(1, self.horizon, 1)


def _meta():
    return PolicyMetadata(action_names=("a0", "a1"), state_names=("j0", "j1", "j2"),
                          cameras=("scene",), image_size=(6, 8), horizon=4, dt=0.1)


def _obs(stamp=2.0):
    rng = np.random.default_rng(0)
    return Observation(images={"scene": rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)},
                       state=np.array([0.1, -0.2, 0.3]), instruction="pick the cube",
                       stamp=stamp)


def test_batch_is_lerobots_layout_and_chunk_and_features_come_back():
    model = TinyChunkModel()
    policy = LeRobotPolicy(model, _meta(), feature_module="decoder")
    chunk = policy.infer(_obs())
    image = model.seen["observation.images.scene"]
    assert image.shape == (1, 3, 6, 8) and image.dtype == torch.float32
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert model.seen["observation.state"].shape == (1, 3) and model.seen["task"] == [
        "pick the cube"]
    assert chunk.actions.shape == (4, 2) and chunk.names == ["a0", "a1"] and chunk.stamp == 2.0
    with torch.no_grad():
        expected = model.decoder(torch.tanh(model.encoder(torch.cat(
            [model.seen["observation.state"],
             model.seen["observation.images.scene"].mean(dim=(2, 3))], 1))))[0]
    np.testing.assert_allclose(chunk.features, expected.numpy(), rtol=1e-5)
    policy.reset()
    assert model.resets == 1


def test_pre_and_post_processors_are_applied():
    model = TinyChunkModel()
    seen = {}

    def pre(batch):
        seen["pre"] = True
        return {**batch, "observation.state": batch["observation.state"] * 0}

    policy = LeRobotPolicy(model, _meta(), preprocess=pre, postprocess=lambda a: a + 100.0)
    chunk = policy.infer(_obs())
    assert seen["pre"] and torch.all(model.seen["observation.state"] == 0)
    assert chunk.actions.min() > 90 and chunk.features is None


def test_bad_feature_module_and_wrong_action_width_are_clear_errors():
    with pytest.raises(PolicyConfigError, match="no submodule 'decoder.nope'"):
        LeRobotPolicy(TinyChunkModel(), _meta(), feature_module="decoder.nope")
    wide = LeRobotPolicy(TinyChunkModel(action_dim=5), _meta())
    with pytest.raises(PolicyConfigError, match="5 action dimensions"):
        wide.infer(_obs())


def test_loader_refuses_missing_or_pickled_checkpoints(tmp_path):
    with pytest.raises(PolicyConfigError, match="no config.json"):
        load_lerobot_policy(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"type": "act"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(PolicyConfigError, match="no model.safetensors"):
        load_lerobot_policy(tmp_path)
    with pytest.raises(PolicyConfigError, match="needs checkpoint"):
        make_policy()


@pytest.mark.skipif(HAVE_LEROBOT, reason="LeRobot is installed: the error path does not apply")
def test_without_lerobot_the_registry_says_what_to_install(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"type": "act"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(PolicyConfigError, match=r"vla_ros\[lerobot\]"):
        make_any_policy("lerobot", checkpoint=str(tmp_path))


@pytest.mark.skipif(not HAVE_LEROBOT,
                    reason="LeRobot is an optional extra (own environment, torch < 2.11)")
def test_real_lerobot_act_round_trip(tmp_path):
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    config = ACTConfig(
        input_features={"observation.state": PolicyFeature(FeatureType.STATE, (3,)),
                        "observation.images.scene": PolicyFeature(FeatureType.VISUAL, (3, 96, 96))},
        output_features={"action": PolicyFeature(FeatureType.ACTION, (2,))},
        chunk_size=4, n_action_steps=4, dim_model=32, n_heads=2, dim_feedforward=64,
        n_encoder_layers=1, n_decoder_layers=1, use_vae=False, pretrained_backbone_weights=None)
    ACTPolicy(config).save_pretrained(tmp_path)
    pre, post = make_pre_post_processors(config, dataset_stats=None)
    pre.save_pretrained(tmp_path)
    post.save_pretrained(tmp_path)
    policy = load_lerobot_policy(tmp_path, fps=10)
    rng = np.random.default_rng(0)
    obs = Observation(images={"scene": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)},
                      state=np.zeros(3), instruction="x")
    chunk = policy.infer(obs)
    assert chunk.actions.shape == (4, 2) and chunk.features.shape == (32,)
