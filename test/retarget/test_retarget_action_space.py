"""Action spaces and the Retargeter: names, round trips through FK, redundancy, bad input."""

from __future__ import annotations

import numpy as np
import pinocchio as pin
import pytest

from vla_ros.retarget.action_space import ActionSpace
from vla_ros.retarget.errors import RetargetError
from vla_ros.retarget.retargeter import ActionSpaceUnavailableError, Retargeter
from vla_ros.retarget.robot_config import known_robots, load_robot_config
from vla_ros.retarget.robot_model import RobotModel
from vla_ros.retarget.rotations import matrix_to_rot6d


@pytest.fixture(scope="module")
def panda() -> RobotModel:
    return RobotModel.load("panda")


def space(robot: RobotModel, name: str) -> ActionSpace:
    return ActionSpace.for_robot(robot, name)


def tight(robot: RobotModel, name: str) -> Retargeter:
    return Retargeter(robot, space(robot, name), tol_pos=1e-4, tol_rot=1e-3, max_steps=60)


def nearby_q(robot: RobotModel, seed: int, scale: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    joints = robot.joints_from_q(robot.q_neutral) + rng.normal(0.0, scale, len(robot.joint_names))
    return robot.q_from_joints(np.clip(joints, robot.lower + 0.05, robot.upper - 0.05))


def pose_errors(robot: RobotModel, qa: np.ndarray, qb: np.ndarray) -> tuple[float, float]:
    Ta, Tb = robot.fk(qa), robot.fk(qb)
    pos = float(np.linalg.norm(Ta[:3, 3] - Tb[:3, 3]))
    rot = float(np.linalg.norm(pin.log3(Ta[:3, :3].T @ Tb[:3, :3])))
    return pos, rot


# --- declared names ------------------------------------------------------------------------
def test_panda_space_names_label_every_dimension(panda):
    joints = list(panda.joint_names)
    assert space(panda, "joint").names == (*joints, "gripper")
    assert space(panda, "joint_delta").names == (*[f"delta_{j}" for j in joints], "gripper")
    assert space(panda, "ee").names == ("x", "y", "z", "rx", "ry", "rz", "gripper")
    assert space(panda, "ee_delta").names[:6] == ("dx", "dy", "dz", "drx", "dry", "drz")
    assert space(panda, "ee_6d").dim == 3 + 6 + 1
    assert space(panda, "erj").names[6] == "panda_joint1"
    assert space(panda, "era").names[6] == "swivel"
    assert ActionSpace.for_robot(panda).label == panda.config.default_action_space


@pytest.mark.parametrize("robot_name", known_robots())
def test_every_declared_space_of_every_robot_parses(robot_name):
    cfg = load_robot_config(robot_name)
    for name in cfg.action_spaces:
        s = ActionSpace.for_robot(cfg, name)
        assert s.dim == len(s.names) == len(set(s.names)) > 0


def test_whole_body_names_cover_both_hands_and_pelvis():
    cfg = load_robot_config("g1")
    s = ActionSpace.for_robot(cfg, "whole_body")
    assert s.names[:3] == ("right_hand_x", "right_hand_y", "right_hand_z")
    assert "left_hand_rz" in s.names and s.names[-1] == "pelvis_z"
    assert ActionSpace.for_robot(cfg, "whole_body_6d").dim == 2 * 9


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"type": "teleport"}, "type 'teleport'"),
        ({"type": "ee_pose", "speed": 2}, "unknown key 'speed'"),
        ({"type": "ee_pose", "mode": "relative"}, "mode 'relative'"),
        ({"type": "ee_pose", "rotation": "euler"}, "unknown rotation encoding 'euler'"),
        ({"type": "eigengrasp", "mode": "delta"}, "no delta mode"),
        ({"type": "erj"}, "erj needs 'joint"),
        ({"type": "erj", "joint": "panda_finger_joint1"}, "not a commanded joint"),
        ({"type": "ee_pose", "names": ["a", "b"]}, "names has 2 entries"),
        ({"type": "ee_pose", "names": ["a"] * 6}, "duplicate dimension names"),
        ({"type": "ee_pose", "gripper": "yes"}, "gripper must be true or false"),
        ({"type": "ee_pose", "orientation_weight": 0}, "orientation_weight must be"),
    ],
)
def test_bad_space_configs_say_what_is_wrong(panda, config, fragment):
    with pytest.raises(RetargetError, match="action space 'bad'") as err:
        ActionSpace.from_config(config, panda, "bad")
    assert fragment in str(err.value)


def test_names_override_relabels_columns(panda):
    s = ActionSpace.from_config(
        {"type": "ee_pose", "names": ["px", "py", "pz", "ax", "ay", "az"]}, panda)
    assert s.names == ("px", "py", "pz", "ax", "ay", "az")


def test_column_order_maps_named_columns_and_refuses_others(panda):
    s = space(panda, "ee")
    shuffled = ["gripper", "rz", "ry", "rx", "z", "y", "x"]
    order = s.column_order(shuffled)
    assert [shuffled[i] for i in order] == list(s.names)
    with pytest.raises(RetargetError, match=r"unknown names \['roll'\]"):
        s.column_order(["x", "y", "z", "rx", "ry", "roll", "gripper"])
    with pytest.raises(RetargetError, match=r"missing \['gripper'\]"):
        s.column_order(["x", "y", "z", "rx", "ry", "rz"])


# --- round trips through FK -------------------------------------------------------------
@pytest.mark.parametrize("name", ["ee", "ee_6d", "erj", "era", "ee_delta"])
def test_pose_round_trip_reaches_the_encoded_pose(panda, name):
    rt = tight(panda, name)
    for seed in range(3):
        q_goal = nearby_q(panda, seed)
        rt.reset(panda.q_neutral)
        row = rt.encode(q_goal, gripper=0.25)
        result = rt.step(row)
        pos, rot = pose_errors(panda, q_goal, result.q)
        assert result.reached, (name, seed, result.pos_err, result.rot_err)
        assert pos < 1e-3 and rot < 1e-2, (name, seed, pos, rot)
        assert np.allclose(result.hand, [0.03, 0.03])  # open 0.04 -> closed 0.0 at 0.25


def test_erj_pins_the_named_joint_and_keeps_the_pose(panda):
    rt = tight(panda, "erj")
    rt.reset(panda.q_neutral)
    row = rt.encode(nearby_q(panda, 4, 0.1))
    poses, pinned = [], []
    for value in (-0.3, 0.25):
        rt.reset(panda.q_neutral)
        row[6] = value
        result = rt.step(row)
        assert result.reached
        assert abs(result.joints[0] - value) < 5e-3
        poses.append(panda.fk(result.q))
        pinned.append(result.joints[0])
    assert np.allclose(poses[0], poses[1], atol=2e-3)  # same EE pose, other elbow
    assert abs(pinned[0] - pinned[1]) > 0.5


def test_era_sets_the_swivel_angle_and_keeps_the_pose(panda):
    rt = tight(panda, "era")
    rt.reset(panda.q_neutral)
    row = rt.encode(panda.q_neutral)
    base = row[6]
    for offset in (-0.4, 0.4):
        rt.reset(panda.q_neutral)
        row[6] = base + offset
        result = rt.step(row)
        assert result.reached
        swivel = rt.encode(result.q)[6]
        assert abs(swivel - (base + offset)) < 5e-3
        pos, rot = pose_errors(panda, panda.q_neutral, result.q)
        assert pos < 1e-3 and rot < 1e-2
        assert np.abs(result.joints - panda.joints_from_q(panda.q_neutral)).max() > 0.05


def test_deltas_accumulate_to_the_absolute_target(panda):
    rt_delta, rt_abs = tight(panda, "ee_delta"), tight(panda, "ee")
    for rt in (rt_delta, rt_abs):
        rt.reset(panda.q_neutral)
    start = panda.fk(panda.q_neutral)
    step = np.array([0.01, -0.005, 0.008, 0.0, 0.0, 0.05, 1.0])
    for _ in range(4):
        result = rt_delta.step(step)
    goal = start.copy()
    goal[:3, 3] += 4 * step[:3]
    end = panda.fk(result.q)
    assert np.allclose(end[:3, 3], goal[:3, 3], atol=1e-3)
    rz = np.arctan2(end[1, 0], end[0, 0]) - np.arctan2(start[1, 0], start[0, 0])
    assert abs((rz - 0.2 + np.pi) % (2 * np.pi) - np.pi) < 1e-2
    absolute = rt_abs.step(rt_abs.encode(result.q, gripper=1.0))
    assert np.allclose(panda.fk(absolute.q), end, atol=2e-3)
    assert np.allclose(result.hand, [0.0, 0.0])


def test_joint_delta_and_absolute_agree(panda):
    q0 = panda.joints_from_q(panda.q_neutral)
    rt = Retargeter(panda, space(panda, "joint_delta"))
    rt.reset(q0)
    d = np.array([0.05, -0.02, 0.0, 0.03, 0.0, 0.01, -0.04, 0.0])
    for _ in range(3):
        result = rt.step(d)
    assert np.allclose(result.joints, q0 + 3 * d[:7])
    rt_abs = Retargeter(panda, space(panda, "joint"))
    rt_abs.reset(q0)
    assert np.allclose(rt_abs.step(np.append(q0 + 3 * d[:7], 0.0)).joints, result.joints)


def test_rot6d_is_orthonormalised_and_parallel_columns_refused(panda):
    rt = tight(panda, "ee_6d")
    rt.reset(panda.q_neutral)
    T = panda.fk(nearby_q(panda, 7, 0.1))
    r6 = matrix_to_rot6d(T[:3, :3])
    messy = np.concatenate((2.5 * r6[:3], 0.7 * r6[3:] + 0.3 * r6[:3]))  # same frame
    result = rt.step(np.concatenate((T[:3, 3], messy, [0.0])))
    assert np.allclose(panda.fk(result.q), T, atol=2e-3)
    with pytest.raises(RetargetError, match="parallel"):
        rt.step(np.concatenate((T[:3, 3], r6[:3], 2 * r6[:3], [0.0])))


# --- bad input and limits ---------------------------------------------------------------
def test_bad_rows_raise_naming_the_dimension(panda):
    rt = Retargeter(panda, space(panda, "ee"))
    row = rt.encode(panda.q_neutral)
    bad = row.copy()
    bad[4] = np.nan
    with pytest.raises(RetargetError, match=r"NaN/inf\) in \['ry'\]"):
        rt.step(bad)
    bad[4] = np.inf
    with pytest.raises(RetargetError, match="ry"):
        rt.step(bad)
    with pytest.raises(RetargetError, match=r"expected 7 values .* got shape \(6,\)"):
        rt.step(row[:6])
    with pytest.raises(RetargetError, match="q must hold 7 joint values"):
        rt.reset(np.zeros(3))
    with pytest.raises(RetargetError, match="twist must be 6 finite"):
        rt.twist_step([0, 0, np.nan, 0, 0, 0], None, panda.q_neutral, 0.02)


def test_unreachable_target_gives_best_feasible_step_and_a_flag(panda):
    rt = Retargeter(panda, space(panda, "ee"))
    rt.reset(panda.q_neutral)
    row = rt.encode(panda.q_neutral)
    row[:3] = [2.0, 0.5, 1.0]  # far outside the ~0.85 m reach
    result = rt.step(row)
    assert not result.reached and result.pos_err > 0.5
    assert np.all(np.isfinite(result.joints))
    assert np.all(result.joints >= panda.lower) and np.all(result.joints <= panda.upper)
    start = np.linalg.norm(panda.fk(panda.q_neutral)[:3, 3] - row[:3])
    assert result.pos_err < start  # it moved towards the target


def test_out_of_range_commands_are_clipped_and_reported(panda):
    rt = Retargeter(panda, space(panda, "joint"))
    row = np.append(panda.joints_from_q(panda.q_neutral), 1.7)
    row[3] = 5.0
    result = rt.step(row)
    assert "panda_joint4" in result.clipped and "gripper" in result.clipped
    assert result.joints[3] == pytest.approx(panda.upper[3])
    assert np.allclose(result.hand, [0.0, 0.0]) and not result.ok


def test_velocity_limit_bounds_each_step(panda):
    rt = Retargeter(panda, space(panda, "joint"))
    q0 = panda.joints_from_q(panda.q_neutral)
    rt.reset(q0)
    row = np.append(q0 + 0.5, 0.0)
    dt = 0.05
    result = rt.step(row, dt=dt)
    assert result.velocity_limited
    assert np.all(np.abs(result.joints - q0) <= panda.velocity_limit * dt + 1e-9)
    assert np.all(np.sign(result.joints - q0) == 1)


def test_twist_moves_the_end_effector_along_the_commanded_axis(panda):
    rt = Retargeter(panda, space(panda, "ee"))
    q = panda.q_neutral.copy()
    start = panda.fk(q)[:3, 3]
    for _ in range(20):
        result = rt.twist_step([0.0, 0.1, 0.0, 0.0, 0.0, 0.0], 1.0, q, 0.02)
        q = result.q  # a perfect robot follows the command
    moved = panda.fk(q)[:3, 3] - start
    assert moved[1] == pytest.approx(0.04, abs=3e-3)
    assert abs(moved[0]) < 3e-3 and abs(moved[2]) < 3e-3
    assert np.allclose(result.hand, [0.0, 0.0])


# --- hands and humanoids ----------------------------------------------------------------
class LinearHandMap:
    """A stand-in eigengrasp map: joints = mid + coeffs @ basis, clipped."""

    def __init__(self, joint_names, lower, upper, k):
        self.joint_names = list(joint_names)
        self.names = [f"eigengrasp_{i}" for i in range(k)]
        self.lower, self.upper = lower, upper
        rng = np.random.default_rng(3)
        self.basis = rng.normal(0.0, 0.1, (k, len(joint_names)))
        self.mid = 0.5 * (lower + upper)

    def to_joint_positions(self, coeffs):
        return np.clip(self.mid + np.asarray(coeffs) @ self.basis, self.lower, self.upper)

    def from_joint_positions(self, q):
        return np.linalg.lstsq(self.basis.T, np.asarray(q) - self.mid, rcond=None)[0]


def test_eigengrasp_coefficients_drive_the_hand_joints():
    allegro = RobotModel.load("allegro")
    k = 5
    fake = LinearHandMap(allegro.joint_names[::-1], allegro.lower[::-1], allegro.upper[::-1], k)
    rt = Retargeter(allegro, space(allegro, "eigengrasp"), eigengrasp_map=fake)
    coeffs = np.array([0.5, -0.3, 0.2, 0.0, 0.1])
    result = rt.step(coeffs)
    expected = fake.to_joint_positions(coeffs)[::-1]  # map order -> robot joint order
    assert np.allclose(result.joints, expected)
    assert np.allclose(rt.encode(result.q), coeffs, atol=1e-6)
    with pytest.raises(RetargetError, match="eigengrasp_2"):
        rt.step([0.0, 0.0, np.nan, 0.0, 0.0])


def test_eigengrasp_with_the_shipped_map():
    allegro = RobotModel.load("allegro")
    if not (allegro.config.path.parent.parent / "eigengrasps" / "allegro.yaml").is_file():
        with pytest.raises(RetargetError, match="allegro"):
            Retargeter(allegro, space(allegro, "eigengrasp"))
        return
    rt = Retargeter(allegro, space(allegro, "eigengrasp"))
    opened, closed = rt.step(np.zeros(5)), rt.step(np.array([1.5, 0, 0, 0, 0]))
    assert np.abs(closed.joints - opened.joints).max() > 0.1
    assert np.all(closed.joints <= allegro.upper) and np.all(closed.joints >= allegro.lower)


@pytest.fixture(scope="module")
def g1() -> RobotModel:
    return RobotModel.load("g1")


def test_whole_body_moves_hands_and_squats_with_the_feet_fixed(g1):
    rt = Retargeter(g1, space(g1, "whole_body"))
    rt.reset(g1.q_neutral)
    row = rt.encode(g1.q_neutral)
    feet = [g1.fk(g1.q_neutral, f.frame) for f in g1.config.feet.values()]
    row[0] += 0.05  # right hand 5 cm forward
    row[-1] -= 0.08  # pelvis 8 cm lower: a squat
    result = rt.step(row)
    assert result.reached, (result.pos_err, result.rot_err)
    assert np.allclose(rt.encode(result.q), row, atol=2e-3)
    for T, foot in zip(feet, g1.config.feet.values(), strict=True):
        assert np.allclose(g1.fk(result.q, foot.frame), T, atol=1e-3)
    assert np.all(result.joints >= g1.lower) and np.all(result.joints <= g1.upper)
    with pytest.raises(RetargetError, match="pelvis_z must be > 0"):
        rt.step(np.append(row[:-1], -0.1))
    with pytest.raises(ActionSpaceUnavailableError, match="chunks only"):
        rt.twist_step(np.zeros(6), None, result.q, 0.02)


def test_whole_body_6d_without_pelvis_height(g1):
    rt = Retargeter(g1, space(g1, "whole_body_6d"))
    rt.reset(g1.q_neutral)
    row = rt.encode(g1.q_neutral)
    row[9 + 2] += 0.04  # left hand 4 cm up
    result = rt.step(row)
    assert result.reached
    assert np.allclose(rt.encode(result.q), row, atol=2e-3)


def test_so101_weights_position_over_orientation():
    so101 = RobotModel.load("so101")
    rt = Retargeter(so101, space(so101, "ee"))
    q_goal = nearby_q(so101, 1, 0.15)
    row = rt.encode(q_goal, gripper=1.0)
    result = rt.step(row)
    goal = so101.fk(q_goal)[:3, 3]
    assert np.linalg.norm(so101.fk(result.q)[:3, 3] - goal) < 3e-3
    assert result.hand == pytest.approx([-0.1])


def test_raw_hand_joint_columns_match_simulator_joint_datasets(panda):
    s = ActionSpace.from_config({"type": "joint_position", "gripper": "joints"}, panda, "raw")
    assert s.names == (*panda.joint_names, "panda_finger_joint1", "panda_finger_joint2")
    rt = Retargeter(panda, s)
    row = np.concatenate((panda.joints_from_q(panda.q_neutral), [0.01, 0.07]))
    result = rt.step(row)
    assert result.hand[0] == pytest.approx(0.01)
    assert result.hand[1] == pytest.approx(panda.hand_upper[1])  # 0.07 clipped to 0.04
    assert result.clipped == ["panda_finger_joint2"]
    with pytest.raises(RetargetError, match="true or false or joints"):
        ActionSpace.from_config({"type": "joint_position", "gripper": "raw"}, panda)
