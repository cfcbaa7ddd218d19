"""Training the built-in VLA: samples, augmentation, loss goes down, CLI on a real dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from vla_ros.policy.errors import PolicyConfigError
from vla_ros.policy.interface import Observation
from vla_ros.policy.samples import ChunkSamples, SyntheticEpisodes, augment_images, fit_image_size
from vla_ros.policy.train import TrainConfig, chunk_loss, train_policy
from vla_ros.policy.vla import BuiltinVLAPolicy
from vla_ros.policy.vla_model import PRESETS


def tiny_train(**kw) -> TrainConfig:
    base = dict(steps=50, batch_size=16, lr=2e-3, warmup_steps=5, horizon=4,
                text_encoder="hash", progress=False, val_fraction=0.0, model=PRESETS["tiny"])
    base.update(kw)
    return TrainConfig(**base)


def test_chunk_samples_pad_past_the_episode_end():
    src = SyntheticEpisodes(num_episodes=2, length=6)
    samples = ChunkSamples(src, [0, 1], horizon=4, image_size=(32, 32))
    assert len(samples) == 12
    last = 5  # final frame of episode 0: one real step, three padded
    assert samples.pad[last].tolist() == [False, True, True, True]
    np.testing.assert_array_equal(samples.actions[samples.chunk_index[last]],
                                  np.repeat(src.episode(0).actions[-1:], 4, axis=0))
    assert samples.chunk_index[6].tolist() == [6, 7, 8, 9]  # episode 1 starts fresh
    assert samples.images["front"].shape == (12, 32, 32, 3)


def test_chunk_samples_hold_each_episodes_frames_resized_in_order():
    src = SyntheticEpisodes(num_episodes=3, length=5, image_size=(48, 48), seed=4)
    samples = ChunkSamples(src, [2, 0], horizon=3, image_size=(24, 24))
    from vla_ros.policy.interface import resize_image

    expected = [resize_image(f, (24, 24)) for e in (2, 0) for f in src.episode(e).frames["front"]]
    np.testing.assert_array_equal(samples.images["front"], np.stack(expected))
    assert samples.images["front"].dtype == np.uint8


def test_chunk_samples_name_an_episode_whose_video_is_short():
    class ShortVideo(SyntheticEpisodes):
        def episode(self, index):
            ep = super().episode(index)
            if index == 1:
                ep.frames["front"] = ep.frames["front"][:-2]
            return ep

    with pytest.raises(PolicyConfigError, match="episode 1: camera 'front' has 4 frames for 6"):
        ChunkSamples(ShortVideo(num_episodes=2, length=6), [0, 1], horizon=4,
                     image_size=(32, 32))


def test_chunk_loss_ignores_padded_steps():
    pred = torch.zeros(1, 3, 2)
    target = torch.tensor([[[1.0, 1.0], [5.0, 5.0], [9.0, 9.0]]])
    pad = torch.tensor([[False, True, True]])
    assert float(chunk_loss(pred, target, pad)) == pytest.approx(1.0)


def test_augmentation_keeps_shape_and_range_and_changes_pixels():
    images = torch.rand(4, 2, 3, 32, 32)
    out = augment_images(images.clone(), torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert not torch.allclose(out, images)
    same = augment_images(images.clone(), torch.Generator().manual_seed(0))
    assert torch.equal(out, same)  # seeded: reproducible training


def test_fit_image_size_keeps_small_images_and_aspect():
    assert fit_image_size(96, 96) == (96, 96)
    assert fit_image_size(480, 640) == (96, 128)


def test_fifty_steps_reduce_the_loss_and_the_checkpoint_works(tmp_path: Path):
    src = SyntheticEpisodes(num_episodes=6, length=20, seed=1)
    result = train_policy(src, tmp_path / "ckpt", tiny_train())
    assert len(result.losses) == 50
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < 0.7 * first, (first, last)
    assert (tmp_path / "ckpt/loss_curve.png").stat().st_size > 1000
    info = json.loads((tmp_path / "ckpt/train_info.json").read_text())
    assert info["steps"] == 50 and info["tasks"] == sorted(src.tasks)
    assert info["versions"]["torch"] == torch.__version__

    policy = BuiltinVLAPolicy.from_checkpoint(tmp_path / "ckpt")
    assert policy.metadata.action_names == ("target_x", "target_y")
    assert policy.metadata.dt == pytest.approx(1 / src.fps)
    ep = src.episode(0)
    chunk = policy.infer(Observation({"front": ep.frames["front"][0]}, ep.states[0], ep.task))
    assert chunk.actions.shape == (4, 2) and np.all(np.isfinite(chunk.actions))


def test_validation_split_and_bad_options(tmp_path: Path):
    src = SyntheticEpisodes(num_episodes=5, length=8)
    result = train_policy(src, tmp_path / "v", tiny_train(steps=4, val_fraction=0.2,
                                                          eval_every=2))
    assert [s for s, _ in result.val_losses] == [2, 4]
    with pytest.raises(PolicyConfigError, match="not settable"):
        TrainConfig(model={"cameras": ["x"]})
    with pytest.raises(PolicyConfigError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(PolicyConfigError, match="CUDA is not available"):
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        train_policy(src, tmp_path / "c", tiny_train(steps=1, device="cuda"))


def _write_dataset(root: Path) -> SyntheticEpisodes:
    data = pytest.importorskip("vla_ros.data")
    src = SyntheticEpisodes(num_episodes=3, length=12, image_size=(32, 32), seed=2)
    with data.DatasetWriter(root, fps=src.fps, state_names=src.state_names,
                            action_names=src.action_names, cameras={"front": (32, 32)}) as w:
        for i in range(src.num_episodes):
            ep = src.episode(i)
            for t in range(len(ep.states)):
                w.add_frame(ep.states[t], ep.actions[t], images={"front": ep.frames["front"][t]},
                            task=ep.task)
            w.save_episode()
    return src


def test_cli_trains_on_a_lerobot_v3_dataset(tmp_path: Path, capsys):
    from vla_ros.commands import train as train_cmd

    src = _write_dataset(tmp_path / "ds")
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--dataset", str(tmp_path / "ds"), "--out",
                              str(tmp_path / "out"), "--steps", "3", "--batch-size", "8",
                              "--horizon", "3", "--preset", "tiny", "--text-encoder", "hash",
                              "--quiet"])
    assert args.func(args) == 0
    assert "trained 3 steps" in capsys.readouterr().out
    policy = BuiltinVLAPolicy.from_checkpoint(tmp_path / "out")
    assert policy.metadata.state_names == tuple(src.state_names)
    assert policy.metadata.cameras == ("front",) and policy.metadata.image_size == (32, 32)
    info = json.loads((tmp_path / "out/train_info.json").read_text())
    assert info["dataset"] == str((tmp_path / "ds").resolve())

    bad = parser.parse_args(["train", "--dataset", str(tmp_path / "missing"), "--out",
                             str(tmp_path / "o2"), "--quiet"])
    assert bad.func(bad) == 2
    assert "missing" in capsys.readouterr().err


def test_cli_trains_on_several_datasets_as_one(tmp_path: Path, capsys):
    from vla_ros.commands import train as train_cmd

    _write_dataset(tmp_path / "a")
    _write_dataset(tmp_path / "b")
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--dataset", str(tmp_path / "a"), str(tmp_path / "b"),
                              "--out", str(tmp_path / "out"), "--steps", "2", "--batch-size",
                              "4", "--horizon", "3", "--preset", "tiny", "--text-encoder",
                              "hash", "--quiet"])
    assert args.func(args) == 0
    info = json.loads((tmp_path / "out/train_info.json").read_text())
    assert info["dataset"] == f"{(tmp_path / 'a').resolve()}, {(tmp_path / 'b').resolve()}"
    assert info["train_episodes"] + info["val_episodes"] == 6


def test_time_budget_stops_training_and_still_saves(tmp_path):
    src = SyntheticEpisodes(num_episodes=3, length=8)
    result = train_policy(src, tmp_path / "ck", tiny_train(steps=100_000, time_budget_s=1.0))
    assert 0 < len(result.losses) < 100_000
    assert result.seconds < 10
    assert (tmp_path / "ck" / "model.safetensors").is_file()
    assert (tmp_path / "ck" / "loss_curve.png").stat().st_size > 1000


def test_fine_tuning_starts_from_the_checkpoint(tmp_path: Path):
    """--init: the first step of fine-tuning starts at the trained loss (not from scratch),
    keeps the checkpoint's architecture and normalisation, and refuses mismatched data."""
    src = SyntheticEpisodes(num_episodes=6, length=20, seed=1)
    base = train_policy(src, tmp_path / "base", tiny_train(steps=60))
    tuned = train_policy(src, tmp_path / "tuned",
                         tiny_train(steps=5, init_from=str(tmp_path / "base"),
                                    model={"width": 32}))  # ignored: the checkpoint's arch
    assert tuned.config == base.config
    assert tuned.losses[0] < 0.5 * np.mean(base.losses[:5]), (tuned.losses[0], base.losses[:5])
    base_stats = json.loads((tmp_path / "base/normalization.json").read_text())
    assert json.loads((tmp_path / "tuned/normalization.json").read_text()) == base_stats

    other = SyntheticEpisodes(num_episodes=6, length=20, seed=1, extra_joints=2)
    with pytest.raises(PolicyConfigError, match="state_names"):
        train_policy(other, tmp_path / "bad", tiny_train(steps=1, init_from=str(tmp_path / "base")))


class _ShapedReach(SyntheticEpisodes):
    """The synthetic reach task with a shape noun in its instructions."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.tasks = [f"move to the {c} cube" for c in self.colours]


@pytest.mark.parametrize("prob", [0.0, 0.5, 1.0])
def test_generic_object_prob_swaps_in_the_generic_instruction(tmp_path, monkeypatch, prob):
    """The share of training samples conditioned on "the <colour> object" follows
    generic_object_prob; validation always sees the recorded instruction."""
    from vla_ros.policy import train as train_module
    from vla_ros.policy.text import text_encoder

    seen: list[torch.Tensor] = []

    class Recording(train_module.VLANet):
        def forward(self, images, state, text):
            if self.training:
                seen.append(text.detach().clone())
            return super().forward(images, state, text)

    monkeypatch.setattr(train_module, "VLANet", Recording)
    src = _ShapedReach(num_episodes=4, length=10, seed=3)
    train_policy(src, tmp_path / "g", tiny_train(steps=20, generic_object_prob=prob))
    encoder = text_encoder("hash")
    recorded = {tuple(np.round(encoder.encode(t), 6)) for t in src.tasks}
    generic = {tuple(np.round(encoder.encode(t.replace("cube", "object")), 6))
               for t in src.tasks}
    rows = [tuple(np.round(r, 6)) for batch in seen for r in batch.numpy()]
    assert len(rows) == 20 * 16 and set(rows) <= recorded | generic
    share = np.mean([r in generic for r in rows])
    assert share == pytest.approx(prob, abs=0.08)
    with pytest.raises(PolicyConfigError, match="generic_object_prob"):
        TrainConfig(generic_object_prob=1.5)

