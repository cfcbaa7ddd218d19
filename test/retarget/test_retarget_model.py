"""Robot configs (config/robots/*.yaml) and the pinocchio RobotModel built from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pinocchio as pin
import pytest
import yaml

from vla_ros.retarget.errors import IKError, RobotConfigError, UnknownRobotError
from vla_ros.retarget.robot_config import ROBOTS_DIR, known_robots
from vla_ros.retarget.robot_model import RobotModel

EXPECTED = {  # robot -> (commanded joints, floating base)
    "panda": (7, False),
    "so101": (5, False),
    "allegro": (16, False),
    "g1": (29, True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_robot_loads_with_consistent_vectors(name):
    robot = RobotModel.load(name)
    n, floating = EXPECTED[name]
    assert len(robot.joint_names) == n
    assert robot.floating_base is floating
    assert robot.nv == n + (6 if floating else 0)
    for vec in (robot.lower, robot.upper, robot.velocity_limit):
        assert vec.shape == (n,)
    assert np.all(robot.lower < robot.upper) and np.all(robot.velocity_limit > 0)
    joints = robot.joints_from_q(robot.q_neutral)
    assert np.all(joints >= robot.lower) and np.all(joints <= robot.upper)
    T = robot.fk(robot.q_neutral)
    assert T.shape == (4, 4) and np.allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3))
    assert robot.config.controller_topic.endswith("joint_trajectory")


def test_known_robots_lists_the_config_dir():
    assert set(EXPECTED) <= set(known_robots())


def test_panda_fk_matches_the_full_urdf_model():
    """The reduced IK model (fingers locked) gives the full model's flange pose."""
    robot = RobotModel.load("panda")
    rng = np.random.default_rng(0)
    full, data = robot.full_model, robot.full_model.createData()
    for _ in range(5):
        joints = rng.uniform(robot.lower, robot.upper)
        q_full = robot.q_full_neutral.copy()
        for name, value in zip(robot.joint_names, joints, strict=True):
            q_full[full.joints[full.getJointId(name)].idx_q] = value
        pin.framesForwardKinematics(full, data, q_full)
        expected = data.oMf[full.getFrameId("panda_link8")].homogeneous
        np.testing.assert_allclose(
            robot.fk(robot.q_from_joints(joints), "panda_link8"), expected, atol=1e-12
        )


def test_g1_stands_on_the_ground():
    robot = RobotModel.load("g1")
    for foot in robot.config.feet.values():
        T = robot.fk(robot.q_neutral, foot.frame)
        soles = [T[:3, :3] @ [x, y, foot.sole_z] + T[:3, 3] for x, y in foot.sole]
        assert min(p[2] for p in soles) == pytest.approx(0.0, abs=1e-9)
    com = robot.com(robot.q_neutral)
    assert 0.5 < com[2] < 0.9


def test_q_conversions_round_trip():
    robot = RobotModel.load("g1")
    joints = (robot.lower + robot.upper) / 2
    base = np.array([0.1, -0.2, 0.7, 0.0, 0.0, 0.0, 1.0])
    q = robot.q_from_joints(joints, base)
    np.testing.assert_array_equal(robot.joints_from_q(q), joints)
    np.testing.assert_array_equal(q[:7], base)
    clipped, moved = robot.clip(robot.q_from_joints(robot.upper + 0.1))
    assert moved == robot.joint_names
    np.testing.assert_array_equal(robot.joints_from_q(clipped), robot.upper)
    with pytest.raises(IKError, match="expected 29 joint values"):
        robot.q_from_joints(joints[:-1])


# --- bad configs: the message names the file and the item ------------------------------------
def _write_variant(tmp_path: Path, base: str, **changes) -> str:
    raw = yaml.safe_load((ROBOTS_DIR / f"{base}.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    path = tmp_path / f"{base}_variant.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_unknown_robot_lists_known_ones():
    with pytest.raises(UnknownRobotError, match=r"unknown robot 'r2d2'.*known robots: .*panda"):
        RobotModel.load("r2d2")


def test_missing_urdf_file(tmp_path):
    path = _write_variant(tmp_path, "panda", urdf="urdf/no_such_robot.urdf")
    with pytest.raises(RobotConfigError, match=r"panda_variant\.yaml: urdf: file not found"):
        RobotModel.load(path)


def test_unknown_joint_names_item_and_urdf(tmp_path):
    joints = ["panda_joint1", "panda_joint2", "panda_jointX"]
    path = _write_variant(tmp_path, "panda", joints=joints)
    with pytest.raises(RobotConfigError, match=r"variant\.yaml: joints: no joint 'panda_jointX'"):
        RobotModel.load(path)


def test_unknown_end_effector_frame(tmp_path):
    path = _write_variant(tmp_path, "panda", end_effectors={"tcp": "no_such_frame"})
    with pytest.raises(RobotConfigError, match=r"end_effectors\.tcp: no frame 'no_such_frame'"):
        RobotModel.load(path)


def test_neutral_outside_limits(tmp_path):
    path = _write_variant(tmp_path, "panda", neutral={"panda_joint4": 1.0})
    with pytest.raises(RobotConfigError, match=r"neutral\.panda_joint4: 1\.0 is outside"):
        RobotModel.load(path)


def test_missing_required_field(tmp_path):
    path = _write_variant(tmp_path, "panda", urdf=None)
    with pytest.raises(RobotConfigError, match=r"variant\.yaml: urdf"):
        RobotModel.load(path)


def test_invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(RobotConfigError, match=r"broken\.yaml: <file>: not valid YAML"):
        RobotModel.load(str(path))
