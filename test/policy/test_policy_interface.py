"""Observation validation, ActionChunk invariants, feature labels and the policy registry."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.policy import registry
from vla_ros.policy.errors import PolicyConfigError, PolicyInputError
from vla_ros.policy.interface import (
    ActionChunk,
    Observation,
    Policy,
    PolicyMetadata,
    features_label,
    parse_features_label,
    validate_observation,
)

META = PolicyMetadata(action_names=("a0", "a1"), state_names=("shoulder", "elbow", "wrist"),
                      cameras=("front", "wrist_cam"), image_size=(24, 32), horizon=4, dt=0.1)


def good_obs() -> Observation:
    rng = np.random.default_rng(0)
    images = {cam: rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for cam in META.cameras}
    return Observation(images=images, state=np.array([0.1, 0.2, 0.3]),
                       instruction="pick up the cube", stamp=1.5)


def test_valid_observation_passes():
    validate_observation(good_obs(), META)


@pytest.mark.parametrize("mutate, words", [
    (lambda o: o.images.pop("wrist_cam"), ["wrist_cam", "lacks"]),
    (lambda o: o.images.__setitem__("front", np.zeros((32, 24, 3), np.uint8)),
     ["front", "24x32x3", "(32, 24, 3)"]),
    (lambda o: o.images.__setitem__("front", np.zeros((24, 32), np.uint8)), ["front", "(24, 32)"]),
    (lambda o: o.images.__setitem__("front", np.zeros((24, 32, 3), np.float32)),
     ["front", "uint8"]),
    (lambda o: setattr(o, "state", np.array([0.1, np.nan, 0.3])), ["NaN", "elbow"]),
    (lambda o: setattr(o, "state", np.array([0.1, 0.2])), ["(3,)", "(2,)"]),
    (lambda o: setattr(o, "instruction", None), ["instruction"]),
])
def test_bad_observations_name_the_problem(mutate, words):
    obs = good_obs()
    mutate(obs)
    with pytest.raises(PolicyInputError) as info:
        validate_observation(obs, META)
    for word in words:
        assert word in str(info.value)


def test_action_chunk_times_and_shape_checks():
    chunk = ActionChunk(actions=np.zeros((5, 2)), names=["x", "y"], dt=0.05, stamp=3.0)
    assert chunk.horizon == 5
    np.testing.assert_allclose(chunk.times, [0.05, 0.1, 0.15, 0.2, 0.25])
    with pytest.raises(ValueError, match="names"):
        ActionChunk(actions=np.zeros((5, 3)), names=["x", "y"], dt=0.05)
    with pytest.raises(ValueError, match="dt"):
        ActionChunk(actions=np.zeros((5, 2)), names=["x", "y"], dt=0.0)


def test_features_label_round_trip():
    for chunk_id in (0, 7, 123456):
        assert parse_features_label(features_label(chunk_id)) == chunk_id
    with pytest.raises(ValueError, match="chunk_id"):
        parse_features_label("dim0")
    with pytest.raises(ValueError, match="integer"):
        parse_features_label("chunk_id=x")


class ConstantPolicy(Policy):
    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    @property
    def metadata(self) -> PolicyMetadata:
        return META

    def infer(self, observation: Observation) -> ActionChunk:
        self.validate(observation)
        return ActionChunk(np.full((META.horizon, 2), self.value), list(META.action_names),
                           META.dt, stamp=observation.stamp)


def test_registry_builds_registered_policies_and_rejects_unknown():
    registry.register_policy("test_constant", lambda value=1.0: ConstantPolicy(value),
                             replace=True)
    policy = registry.make_policy("test_constant", value=2.5)
    assert policy.infer(good_obs()).actions[0, 0] == 2.5
    assert "test_constant" in registry.policy_types()
    with pytest.raises(PolicyConfigError, match="already registered"):
        registry.register_policy("test_constant", ConstantPolicy)
    with pytest.raises(PolicyConfigError, match="unknown policy type 'nope'"):
        registry.make_policy("nope")
    registry.register_policy("test_not_policy", lambda: object(), replace=True)
    with pytest.raises(PolicyConfigError, match="not a Policy"):
        registry.make_policy("test_not_policy")
    registry.register_policy("test_missing_module", "vla_ros.policy.no_such_module:make",
                             replace=True)
    with pytest.raises(PolicyConfigError, match="no_such_module"):
        registry.make_policy("test_missing_module")


def test_builtin_is_registered_lazily():
    assert {"builtin", "remote", "lerobot"} <= set(registry.policy_types())
    factory = registry.resolve_factory("builtin")
    with pytest.raises(PolicyConfigError, match="unknown options"):
        factory(checkpoint="x", colour="red")
