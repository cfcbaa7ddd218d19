"""Weight averaging of checkpoints: exact arithmetic, and every incompatible pair refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from test_policy_checkpoint import observation, policy, tiny_config

from vla_ros.cli import main as cli_main
from vla_ros.policy.checkpoint import weights_sha256
from vla_ros.policy.errors import CheckpointError
from vla_ros.policy.normalize import Normalizer, Stats
from vla_ros.policy.vla import BuiltinVLAPolicy
from vla_ros.policy.weight_average import average_checkpoints, save_average


def fine_tune(folder: Path, seed: int) -> Path:
    """The test policy with every float weight moved by seeded noise: a stand-in fine-tune."""
    p = policy()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in p.model.state_dict().values():
            if tensor.dtype.is_floating_point:
                tensor.add_(torch.randn(tensor.shape, generator=generator) * 0.1)
    p.save(folder, info={"steps": 100 + seed})
    return folder


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    return fine_tune(tmp_path / "a", 1), fine_tune(tmp_path / "b", 2)


def test_average_is_the_weighted_mean_of_every_tensor(two, tmp_path: Path):
    a, b = (load_file(p / "model.safetensors") for p in two)
    out = save_average(two, tmp_path / "soup", weights=[3.0, 1.0])
    soup = load_file(out / "model.safetensors")
    assert set(soup) == set(a)
    for name in a:
        torch.testing.assert_close(soup[name], 0.75 * a[name] + 0.25 * b[name])
    assert any(not torch.equal(a[n], b[n]) for n in a)  # the ingredients really differ
    info = json.loads((out / "train_info.json").read_text())
    assert [i["weight"] for i in info["averaged_from"]] == [0.75, 0.25]
    assert info["averaged_from"][1]["sha256"] == weights_sha256(two[1])
    assert info["averaged_from"][0]["steps"] == 101
    assert info["versions"]["torch"] == torch.__version__  # the software that averaged
    # the result is an ordinary checkpoint: it loads and infers with the shared stats
    chunk = BuiltinVLAPolicy.from_checkpoint(out).infer(observation())
    assert chunk.actions.shape == (5, 3) and np.isfinite(chunk.actions).all()


def test_average_of_copies_is_the_same_policy(two, tmp_path: Path):
    out = save_average([two[0], two[0]], tmp_path / "same")
    # one metadata key: several are written in per-process hash order, so the same weights
    # could get another sha256 on the next run (reproduce commands quote it)
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        assert handle.metadata() == {"format": "pt"}
    np.testing.assert_allclose(BuiltinVLAPolicy.from_checkpoint(out).infer(observation()).actions,
                               BuiltinVLAPolicy.from_checkpoint(two[0]).infer(observation())
                               .actions, rtol=1e-6, atol=1e-6)


def test_different_architecture_is_refused(two, tmp_path: Path):
    normalizer = Normalizer(Stats([0.5, -0.5], [2.0, 0.5]), Stats([1.0, 2.0, 0.0], [0.1, 3, 1]))
    BuiltinVLAPolicy.untrained(tiny_config(horizon=6), normalizer, seed=3).save(tmp_path / "h6")
    with pytest.raises(CheckpointError, match=r"config differs .* in \['horizon'\]") as info:
        average_checkpoints([two[0], tmp_path / "h6"])
    assert "h6" in str(info.value)


def test_different_normalisation_is_refused(two):
    stats = json.loads((two[1] / "normalization.json").read_text())
    stats["action"]["mean"][0] += 1.0
    (two[1] / "normalization.json").write_text(json.dumps(stats))
    with pytest.raises(CheckpointError, match="normalisation statistics differ"):
        average_checkpoints(two)


@pytest.mark.parametrize("weights", [[1.0], [1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]])
def test_bad_weights_are_refused(two, weights):
    with pytest.raises(ValueError, match="weights"):
        average_checkpoints(two, weights)


def test_one_checkpoint_or_a_missing_one_is_refused(two, tmp_path: Path):
    with pytest.raises(CheckpointError, match="at least two"):
        average_checkpoints([two[0]])
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        average_checkpoints([two[0], tmp_path / "missing"])


def test_cli_writes_the_average_and_reports_errors(two, tmp_path: Path, capsys):
    assert cli_main(["average-weights", *map(str, two), "--out", str(tmp_path / "c")]) == 0
    assert weights_sha256(tmp_path / "c") in capsys.readouterr().out
    assert cli_main(["average-weights", str(two[0]), "--out", str(tmp_path / "d")]) == 2
    assert "at least two checkpoints" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
