"""Acceptance: a two-node pipeline from an XML launch file, with YAML parameters and a remap,
under sim time; every message arrives in order and the MCAP tee reads back equal."""

import numpy as np
import pytest

from vla_ros.cli import main as cli_main
from vla_ros.runtime.bag import read_bag
from vla_ros.runtime.launch import LaunchError
from vla_ros.runtime.launcher import launch_local
from vla_ros.runtime.local import LocalContext
from vla_ros.runtime.parameters import ParameterError

LAUNCH = "launch/runtime_check.launch.xml"


def run_pipeline(tmp_path, args, seconds=2.0):
    bag = tmp_path / "bag"
    with LocalContext(sim_time=True, bag_path=bag) as ctx:
        nodes = {n.get_name(): n for n in launch_local(LAUNCH, args, ctx)}
        ctx.spin_for(seconds)
        talker, listener = nodes["talker"], nodes["listener"]
        published = talker.count
        received = list(listener.received)
    return published, received, bag


def test_launch_pipeline_delivers_everything_in_order(tmp_path):
    published, received, bag = run_pipeline(tmp_path, {"rate_hz": "25.0"})
    # rate_hz from the launch file (25 Hz) overrides the YAML's 50 Hz: 2 s → 50 messages.
    assert published == 50
    assert len(received) == published
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in received]
    np.testing.assert_allclose(stamps, np.arange(1, 51) / 25.0, atol=1e-9)
    # joint names come from config/runtime_check.yaml (/**/talker key).
    assert list(received[0].name) == ["panda_joint1", "panda_joint2", "panda_joint3"]

    recorded = [m for m in read_bag(bag) if m.topic == "/check/arm/joint_states"]
    assert len(recorded) == published
    for sent, back in zip(received, recorded, strict=True):
        assert back.type_name == "sensor_msgs/msg/JointState"
        assert list(back.msg.name) == list(sent.name)
        np.testing.assert_array_equal(back.msg.position, sent.position)
        assert back.msg.header.stamp == sent.header.stamp
    # the tee stamps each message with the sim time it was published at
    assert [m.stamp_ns for m in recorded] == [round(s * 1e9) for s in stamps]


def test_namespace_argument_moves_the_whole_graph(tmp_path):
    _, received, bag = run_pipeline(tmp_path, {"namespace": "left"}, seconds=0.2)
    assert len(received) == 10  # YAML's 50 Hz overridden by the launch default 50.0
    topics = {m.topic for m in read_bag(bag)}
    assert "/left/arm/joint_states" in topics


def test_launch_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.launch.xml"
    bad.write_text('<launch>\n  <nodee pkg="vla_ros" exec="talker"/>\n</launch>\n')
    with pytest.raises(LaunchError, match=r"bad.launch.xml:2.*nodee"):
        launch_local(bad, {}, LocalContext())
    missing = tmp_path / "missing.launch.xml"
    missing.write_text('<launch>\n  <arg name="robot"/>\n</launch>\n')
    with pytest.raises(LaunchError, match=r"missing.launch.xml:2.*robot"):
        launch_local(missing, {}, LocalContext())


def test_wrong_parameter_type_from_yaml_is_reported_with_its_file(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("talker:\n  ros__parameters:\n    rate_hz: fast\n")
    launch = tmp_path / "t.launch.xml"
    launch.write_text(f'<launch>\n  <node pkg="vla_ros" exec="talker">\n'
                      f'    <param from="{params}"/>\n  </node>\n</launch>\n')
    with pytest.raises(LaunchError, match=r"t.launch.xml:2.*rate_hz") as err:
        launch_local(launch, {}, LocalContext())
    assert isinstance(err.value.__cause__, ParameterError)
    assert "p.yaml" in str(err.value)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.launch.xml"
    bad.write_text('<launch>\n  <node pkg="vla_ros" exec="talker" name="$(var nope)"/>\n'
                   '</launch>\n')
    assert cli_main(["launch", str(bad), "--duration", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "bad.launch.xml:2" in err and "nope" in err
    assert cli_main(["run", "talker", "--ros-args", "-r", "foo"]) == 2
    assert "foo" in capsys.readouterr().err


def test_cli_launch_and_topics_from_bag(tmp_path, capsys):
    bag = tmp_path / "bag"
    assert cli_main(["launch", LAUNCH, "--duration", "0.5", "--bag", str(bag)]) == 0
    assert cli_main(["topics", "list", "--bag", str(bag)]) == 0
    out = capsys.readouterr().out
    assert "/check/arm/joint_states [sensor_msgs/msg/JointState] 25 msgs" in out
