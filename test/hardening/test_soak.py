"""Short soak in CI: every fault class once or twice, all safety invariants hold.

The long run is `vla-ros soak --sim-minutes 10` (docs/reliability.md has its table). The
policy here is an untrained built-in VLA: the soak checks safety, not task success, and a
random policy exercises the limits harder than a good one.
"""

from __future__ import annotations

from vla_ros.commands.soak import FAULTS, run_soak
from vla_ros.policy.vla import BuiltinVLAPolicy
from vla_ros.policy.vla_model import PRESETS, VLAConfig
from vla_ros.sim.robots import PANDA


def test_short_soak_keeps_every_invariant(tmp_path):
    joints = [*PANDA.arm_joints, *PANDA.gripper.joints]
    config = VLAConfig(action_names=["x", "y", "z", "rx", "ry", "rz", "gripper"],
                       state_names=joints, cameras=["scene", "wrist"], image_size=(32, 32),
                       horizon=5, dt=0.1, text_encoder="hash", text_dim=32, **PRESETS["tiny"])
    checkpoint = BuiltinVLAPolicy.untrained(config).save(tmp_path / "policy")
    report = run_soak(tmp_path / "soak", 24.0, checkpoint=str(checkpoint), episode_s=8.0,
                      fault_period_s=4.0, progress=False)
    assert report.unsafe == [] and report.unexpected_crashes == []
    assert all(report.injected[f] >= 1 for f in FAULTS), report.injected
    assert report.commands > 50
    assert report.outcomes["halt_toggle"]["empty trajectory within one callback"] >= 1
    assert sum(v for k, v in report.outcomes["node_kill"].items() if "respawned" in k) >= 1
    assert report.outcomes["garbage_chunk"]["garbage chunks sent"] >= 7
    assert report.episodes_in_dataset == report.episodes_confirmed >= 1
    assert report.ok and (tmp_path / "soak" / "report.md").read_text().count("|") > 20
