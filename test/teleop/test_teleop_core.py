"""Teleop core: key/pad/SpaceMouse mappings, shaping, scripts, leader–follower mapping."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from vla_ros.teleop import (
    KEY_AXES,
    Gamepad,
    GamepadMapping,
    JointMapping,
    KeyboardTeleop,
    LeaderFollower,
    ScriptedTeleop,
    Segment,
    SpaceMouse,
    TeleopConfigError,
    TeleopDeviceError,
    TerminalKeyReader,
    TwistShaping,
    gamepad_command,
    gripper_fraction,
    key_twist_axes,
    load_script,
    spacemouse_command,
)

# (key, expected unit 6-vector [vx vy vz wx wy wz]) in the REP-103 base frame
KEY_EXPECTATIONS = [
    ("w", [1, 0, 0, 0, 0, 0]), ("s", [-1, 0, 0, 0, 0, 0]),
    ("a", [0, 1, 0, 0, 0, 0]), ("d", [0, -1, 0, 0, 0, 0]),
    ("q", [0, 0, 1, 0, 0, 0]), ("e", [0, 0, -1, 0, 0, 0]),
    ("i", [0, 0, 0, 1, 0, 0]), ("k", [0, 0, 0, -1, 0, 0]),
    ("j", [0, 0, 0, 0, 1, 0]), ("l", [0, 0, 0, 0, -1, 0]),
    ("u", [0, 0, 0, 0, 0, 1]), ("o", [0, 0, 0, 0, 0, -1]),
]


@pytest.mark.parametrize("key, expected", KEY_EXPECTATIONS)
def test_each_key_drives_its_axis_with_its_sign(key, expected):
    np.testing.assert_array_equal(key_twist_axes([key]), expected)
    np.testing.assert_array_equal(key_twist_axes([key.upper()]), expected)  # caps lock
    teleop = KeyboardTeleop(TwistShaping(linear_scale=0.2, angular_scale=0.6, deadzone=0))
    teleop.press(key, 1.0)
    cmd = teleop.poll(1.05)
    twist = np.concatenate([cmd.linear, cmd.angular])
    scale = np.array([0.2] * 3 + [0.6] * 3)
    np.testing.assert_allclose(twist, np.array(expected) * scale)


def test_all_twelve_motion_keys_are_bound_once():
    assert len(KEY_AXES) == 12
    assert len({(i, s) for i, s in KEY_AXES.values()}) == 12


def test_keys_combine_cancel_and_expire():
    np.testing.assert_array_equal(key_twist_axes("wa"), [1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(key_twist_axes("ws"), np.zeros(6))
    teleop = KeyboardTeleop(TwistShaping(linear_scale=0.1, max_linear=1.0), hold_s=0.2)
    teleop.press("w", 0.0)
    teleop.press("q", 0.1)
    np.testing.assert_allclose(teleop.poll(0.15).linear, [0.1, 0, 0.1])
    np.testing.assert_allclose(teleop.poll(0.25).linear, [0, 0, 0.1])  # w released
    assert teleop.poll(0.5).is_zero
    teleop.press("w", 1.0)
    teleop.press("x", 1.0)  # stop
    assert teleop.poll(1.0).is_zero


def test_gripper_and_speed_keys():
    teleop = KeyboardTeleop(TwistShaping(linear_scale=0.1, max_linear=1.0))
    assert teleop.poll(0).gripper is None
    teleop.press(" ", 0)
    assert teleop.poll(0).gripper == 1.0
    teleop.press("\r", 0)
    assert teleop.poll(0).gripper == 0.0
    teleop.press("+", 0)
    teleop.press("w", 0)
    assert teleop.poll(0).linear[0] == pytest.approx(0.125)
    for _ in range(20):
        teleop.press("-", 0)
    assert teleop.poll(0).linear[0] == pytest.approx(0.01)  # floored at min_speed


def test_shaping_deadzone_scale_and_clamp():
    shaping = TwistShaping(linear_scale=0.2, angular_scale=1.0, deadzone=0.1,
                           max_linear=0.15, max_angular=0.5)
    lin, ang = shaping.shape([0.05, -0.05, 0.0], [0.08, 0, 0])
    assert not lin.any() and not ang.any()  # inside the dead zone
    lin, _ = shaping.shape([0.55, 0, 0], [0, 0, 0])
    assert lin[0] == pytest.approx(0.5 * 0.2)  # rescaled: half way past the dead zone
    lin, ang = shaping.shape([1, 1, 1], [3.0, np.nan, -1])
    assert np.linalg.norm(lin) == pytest.approx(0.15)
    assert np.linalg.norm(ang) == pytest.approx(0.5) and np.all(np.isfinite(ang))
    with pytest.raises(TeleopConfigError, match="deadzone"):
        TwistShaping(deadzone=1.0)


def test_gamepad_mapping_signs():
    shaping = TwistShaping(linear_scale=1.0, angular_scale=1.0, deadzone=0.0,
                           max_linear=10, max_angular=10)
    axes = [0.0, -1.0, -1.0, 0.0, 0.0, -1.0]  # left stick pushed up; triggers at rest
    cmd = gamepad_command(axes, [0] * 8, GamepadMapping(), shaping)
    np.testing.assert_allclose(cmd.linear, [1, 0, 0])
    axes = [-1.0, 0.0, -1.0, 0.0, 0.0, 1.0]  # stick left, right trigger pulled
    cmd = gamepad_command(axes, [0, 0, 0, 0, 0, 1, 0, 0], GamepadMapping(), shaping)
    np.testing.assert_allclose(cmd.linear, [0, 1, 1])
    np.testing.assert_allclose(cmd.angular, [1, 0, 0])  # right bumper: +roll
    assert gamepad_command([], [1], GamepadMapping(), shaping).gripper == 1.0
    assert gamepad_command([], [0, 1], GamepadMapping(), shaping).gripper == 0.0
    with pytest.raises(TeleopConfigError, match="'vw'"):
        GamepadMapping(axes={"vw": (0, 1.0)})


def test_spacemouse_mapping_and_buttons():
    shaping = TwistShaping(linear_scale=1.0, angular_scale=1.0, deadzone=0.0,
                           max_linear=10, max_angular=10)
    state = SimpleNamespace(x=0.0, y=0.5, z=0.0, roll=0.0, pitch=0.0, yaw=0.0, buttons=[1, 0])
    cmd = spacemouse_command(state, shaping)
    np.testing.assert_allclose(cmd.linear, [0.5, 0, 0])
    assert cmd.gripper == 1.0
    state = SimpleNamespace(x=0.5, y=0, z=-0.3, roll=0, pitch=0, yaw=0.2, buttons=[0, 1])
    cmd = spacemouse_command(state, shaping)
    np.testing.assert_allclose(cmd.linear, [0, -0.5, -0.3])
    np.testing.assert_allclose(cmd.angular, [0, 0, -0.2])
    assert cmd.gripper == 0.0


def test_missing_devices_give_clear_errors(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # import fails as if not installed
    with pytest.raises(TeleopDeviceError, match="pygame"):
        Gamepad()
    monkeypatch.setitem(sys.modules, "pyspacemouse", None)
    with pytest.raises(TeleopDeviceError, match="pyspacemouse"):
        SpaceMouse()
    with pytest.raises(TeleopDeviceError, match="not a tty"):
        TerminalKeyReader(io.StringIO())


def test_gamepad_without_a_pad_says_how_many_it_sees(monkeypatch):
    fake = SimpleNamespace(init=lambda: None, joystick=SimpleNamespace(
        init=lambda: None, get_count=lambda: 0))
    monkeypatch.setitem(sys.modules, "pygame", fake)
    with pytest.raises(TeleopDeviceError, match="no gamepad at index 0: pygame sees 0"):
        Gamepad()


def test_scripted_teleop_plays_segments_then_stops(tmp_path):
    script = ScriptedTeleop([Segment(1.0, (0.1, 0, 0), gripper=0.0),
                             Segment(0.5, angular=(0, 0, 0.2), gripper=1.0)])
    assert script.poll(10.0).linear[0] == 0.1  # time starts at the first poll
    assert script.poll(10.99).linear[0] == 0.1
    cmd = script.poll(11.2)
    assert cmd.angular[2] == 0.2 and cmd.gripper == 1.0 and not cmd.linear.any()
    end = script.poll(12.0)
    assert end.is_zero and end.gripper == 1.0
    path = tmp_path / "script.yaml"
    path.write_text("- {duration: 0.5, linear: [0, 0, 0.05]}\n- {duration: 1, gripper: 1}\n")
    assert load_script(path)[0].linear == (0, 0, 0.05)
    path.write_text("- {linear: [0, 0, 1]}\n")
    with pytest.raises(TeleopConfigError, match="segment 0"):
        load_script(path)


# --- leader–follower ---------------------------------------------------------------------
def test_leader_follower_maps_names_scales_offsets_and_clamps():
    mapping = JointMapping.build(
        ["l_pan", "l_lift", "l_elbow"], ["pan", "lift", "elbow"],
        scale=[1.0, -1.0, 2.0], offset=[0.1, 0.0, 0.0], lower=[-1, -1, -0.5], upper=1.0)
    lf = LeaderFollower(mapping)
    # leader publishes in its own order, with an extra joint the follower ignores
    out = lf.map(["l_elbow", "extra", "l_pan", "l_lift"], [0.4, 9.0, 0.2, 0.3])
    np.testing.assert_allclose(out, [0.3, -0.3, 0.8])
    assert not lf.clamped.any()
    out = lf.map(["l_pan", "l_lift", "l_elbow"], [1.5, 2.0, -1.0])
    np.testing.assert_allclose(out, [1.0, -1.0, -0.5])
    assert lf.clamped.tolist() == [True, True, True]


def test_configured_limits_only_tighten_the_robots():
    mapping = JointMapping.build(["a", "b"], lower=[-0.5, -np.inf], upper=np.inf)
    narrowed = mapping.within([-1.0, -1.0], [1.0, 0.2])
    np.testing.assert_array_equal(narrowed.lower, [-0.5, -1.0])
    np.testing.assert_array_equal(narrowed.upper, [1.0, 0.2])
    with pytest.raises(TeleopConfigError, match=r"\['a'\]: configured limits do not overlap"):
        JointMapping.build(["a"], lower=2.0).within([-1.0], [1.0])


def test_leader_follower_rate_limit_and_errors():
    lf = LeaderFollower(JointMapping.build(["a", "b"], max_velocity=1.0))
    np.testing.assert_allclose(lf.step(["a", "b"], [0.0, 0.0], 0.1), [0, 0])
    np.testing.assert_allclose(lf.step(["a", "b"], [0.5, -0.05], 0.1), [0.1, -0.05])
    lf.reset([1.0, 1.0])  # start from the follower's measured pose
    np.testing.assert_allclose(lf.step(["a", "b"], [0.0, 1.05], 0.1), [0.9, 1.05])
    lf.reset()
    np.testing.assert_allclose(lf.step(["a", "b"], [0.0, 0.0], 0.1), [0.0, 0.0])
    with pytest.raises(TeleopConfigError, match="1 positions for 2 joints"):
        lf.reset([0.0])
    with pytest.raises(TeleopConfigError, match=r"lacks joints \['b'\]"):
        lf.map(["a"], [0.0])
    with pytest.raises(TeleopConfigError, match=r"\['a'\] report NaN"):
        lf.map(["a", "b"], [np.nan, 0.0])
    with pytest.raises(TeleopConfigError, match="2 leader joints"):
        JointMapping.build(["a", "b"], ["x"])
    with pytest.raises(TeleopConfigError, match="'offset' has 3 values for 2"):
        JointMapping.build(["a", "b"], offset=[0, 0, 0])
    with pytest.raises(TeleopConfigError, match=r"\['b'\] have lower limit > upper"):
        JointMapping.build(["a", "b"], lower=[0, 1], upper=[1, 0])
    assert gripper_fraction(1.2, 1.2, -0.1) == 0.0
    assert gripper_fraction(-0.1, 1.2, -0.1) == 1.0
    assert gripper_fraction(0.55, 1.2, -0.1) == pytest.approx(0.5)


def test_terminal_reader_reads_raw_keys_from_a_pty_and_restores_it():
    import os
    import pty
    import termios

    master, slave = pty.openpty()
    stream = os.fdopen(slave, "r")
    try:
        before = termios.tcgetattr(slave)
        reader = TerminalKeyReader(stream)
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # no line buffering
        assert reader.read_keys() == []  # nothing typed: returns at once
        os.write(master, b"wQ \r")
        assert reader.read_keys() == ["w", "q", "space", "enter"]
        reader.close()
        assert termios.tcgetattr(slave) == before
    finally:
        stream.close()
        os.close(master)


class FakeEvdev:
    """Just enough of python-evdev for one pad: sticks (0..255), triggers (0..1023), A/B."""

    class ecodes:  # noqa: N801 (mirrors evdev.ecodes)
        EV_KEY, EV_ABS = 1, 3
        ABS_X, ABS_Y, ABS_Z, ABS_RX, ABS_RY, ABS_RZ = 0, 1, 2, 3, 4, 5
        BTN_SOUTH, BTN_EAST, BTN_NORTH, BTN_WEST, BTN_TL, BTN_TR = 304, 305, 307, 308, 310, 311

    def __init__(self, pads: int = 1) -> None:
        self.pads = pads
        self.queue: list = []

    def list_devices(self):
        return [f"/dev/input/event{i}" for i in range(3)]

    def InputDevice(self, path):
        fake, is_pad = self, self.pads > 0 and path.endswith("2")  # event2 is the pad

        class Device:
            def capabilities(self, absinfo=False):
                if not is_pad:
                    return {fake.ecodes.EV_KEY: [30, 31]}  # a keyboard
                info = {c: SimpleNamespace(min=0, max=255) for c in range(5) if c != 2}
                info[2] = info[5] = SimpleNamespace(min=0, max=1023)
                axes = list(info.items()) if absinfo else list(info)
                return {fake.ecodes.EV_ABS: axes, fake.ecodes.EV_KEY: [304, 305]}

            def read(self):
                if not fake.queue:
                    raise BlockingIOError
                events, fake.queue = fake.queue, []
                return events

            def close(self):
                pass

        return Device()


def test_evdev_gamepad_normalises_axes_and_reads_buttons(monkeypatch):
    from vla_ros.teleop import EvdevGamepad

    fake = FakeEvdev()
    monkeypatch.setitem(sys.modules, "evdev", fake)
    shaping = TwistShaping(linear_scale=1.0, deadzone=0.0, max_linear=10)
    pad = EvdevGamepad(shaping=shaping)
    assert pad.poll(0).is_zero  # triggers rest at -1: no z motion
    ev = SimpleNamespace
    fake.queue = [ev(type=3, code=1, value=0),      # left stick fully up
                  ev(type=3, code=5, value=1023),   # right trigger pulled
                  ev(type=1, code=304, value=1)]    # A pressed
    cmd = pad.poll(0.1)
    np.testing.assert_allclose(cmd.linear, [1.0, 0.0, 1.0])
    assert cmd.gripper == 1.0
    assert pad.poll(0.2).gripper == 1.0  # no new events: state held


def test_evdev_gamepad_missing_library_or_pad(monkeypatch):
    from vla_ros.teleop import EvdevGamepad

    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(TeleopDeviceError, match="pip install evdev"):
        EvdevGamepad()
    monkeypatch.setitem(sys.modules, "evdev", FakeEvdev(pads=0))
    with pytest.raises(TeleopDeviceError, match="no gamepad among 3 input device"):
        EvdevGamepad()


def test_waypoint_expert_reaches_each_waypoint_closed_loop():
    import pinocchio as pin

    from vla_ros.teleop import Waypoint, WaypointExpert, waypoints_from_flat

    expert = WaypointExpert([Waypoint((0.1, 0, 0)), Waypoint((0.1, 0.0, -0.05), 1.0, 0.2)],
                            gain=3.0, max_speed=0.2)
    assert expert.poll(0).is_zero  # nothing observed yet
    T = np.eye(4)
    T[:3, 3] = [0.4, 0.0, 0.3]
    T[:3, :3] = pin.exp3(np.array([0.0, 0.0, 0.1]))  # start orientation: yawed 0.1 rad
    start = T.copy()
    expert.observe(T)
    T[:3, :3] = pin.exp3(np.array([0.0, 0.0, 0.3])) # then disturbed by 0.2 rad
    dt, reached_first, speeds = 0.02, None, []
    for step in range(400):  # a perfect servo that lags one step
        expert.observe(T)
        cmd = expert.poll(step * dt)
        speeds.append(np.linalg.norm(cmd.linear))
        if expert.index == 1 and reached_first is None:
            reached_first = T[:3, 3] - start[:3, 3]
        T[:3, 3] += cmd.linear * dt
        T[:3, :3] = pin.exp3(cmd.angular * dt) @ T[:3, :3]
    assert expert.done and cmd.gripper == 1.0
    np.testing.assert_allclose(reached_first, [0.1, 0, 0], atol=0.006)
    np.testing.assert_allclose(T[:3, 3] - start[:3, 3], [0.1, 0, -0.05], atol=0.006)
    assert pin.log3(start[:3, :3] @ T[:3, :3].T) == pytest.approx(np.zeros(3), abs=0.01)
    assert max(speeds) <= 0.2 + 1e-9
    wps = waypoints_from_flat([0.1, 0, 0, -1, 0, 0, 0, 0.5])
    assert wps[0].gripper is None and wps[1].gripper == 0.5
    with pytest.raises(TeleopConfigError, match="4 values each"):
        waypoints_from_flat([0.1, 0.2])
