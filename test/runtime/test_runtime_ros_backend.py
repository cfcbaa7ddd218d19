"""The rclpy backend. Runs only where rclpy imports (a ROS 2 machine); skipped elsewhere.

The parts of runtime/ros.py that need no rclpy (type-name mapping, numpy → array.array
conversion) are checked here on every machine.
"""

import array
import sys
import types

import numpy as np
import pytest

from vla_ros.runtime import ros


def test_numpy_fields_become_what_rclpy_accepts(monkeypatch):
    package = types.ModuleType("fake_msgs")
    msg_module = types.ModuleType("fake_msgs.msg")

    class Sample:
        def __init__(self, **fields):
            self.fields = fields

    msg_module.Sample = Sample
    package.msg = msg_module
    monkeypatch.setitem(sys.modules, "fake_msgs", package)
    monkeypatch.setitem(sys.modules, "fake_msgs.msg", msg_module)
    ros.ros_class.cache_clear()
    built = ros.build_ros_message("fake_msgs/msg/Sample", {
        "position": np.array([1.0, 2.0]), "data": np.arange(3, dtype=np.uint8),
        "k": np.eye(2), "name": ["a"], "count": 3,
    })
    assert isinstance(built.fields["position"], array.array)
    assert built.fields["position"].typecode == "d" and list(built.fields["position"]) == [1, 2]
    assert built.fields["data"].typecode == "B"
    assert built.fields["k"] == [[1.0, 0.0], [0.0, 1.0]]
    assert built.fields["name"] == ["a"] and built.fields["count"] == 3


def test_service_request_names_map_to_rosidl_classes(monkeypatch):
    package = types.ModuleType("std_srvs")
    srv_module = types.ModuleType("std_srvs.srv")

    class Trigger:
        class Request:
            pass

        class Response:
            pass

    srv_module.Trigger = Trigger
    package.srv = srv_module
    monkeypatch.setitem(sys.modules, "std_srvs", package)
    monkeypatch.setitem(sys.modules, "std_srvs.srv", srv_module)
    ros.ros_class.cache_clear()
    assert ros.ros_class("std_srvs/srv/Trigger_Request") is Trigger.Request
    assert ros.ros_class("std_srvs/srv/Trigger_Response") is Trigger.Response
    ros.ros_class.cache_clear()


needs_rclpy = pytest.mark.skipif(
    not ros.available(),
    reason="rclpy is not installed (no ROS 2 here); the ros backend runs on ROS machines")


@needs_rclpy
def test_talker_listener_on_rclpy():
    from vla_ros.nodes.listener import Listener
    from vla_ros.nodes.talker import Talker
    from vla_ros.runtime.ros import RosContext

    ctx = RosContext(args=[])
    try:
        talker = Talker(context=ctx, parameter_overrides={"rate_hz": 50.0})
        listener = Listener(context=ctx)
        ctx.spin_for(1.0)
        assert talker.count > 10
        assert len(listener.received) > 5
        assert talker.get_parameter("rate_hz").value == 50.0
    finally:
        ctx.shutdown()


@needs_rclpy
def test_trigger_service_on_rclpy():
    from vla_ros.runtime import Node, msgs
    from vla_ros.runtime.ros import RosContext

    ctx = RosContext(args=[])
    try:
        server = Node("server", context=ctx)
        server.create_service(msgs.Trigger, "~/reset",
                              lambda req, res: setattr(res, "success", True) or res)
        client = Node("client", context=ctx).create_client(msgs.Trigger, "/server/reset")
        assert client.wait_for_service(timeout_sec=2.0)
        future = client.call_async(msgs.Trigger.Request())
        ctx.spin_for(0.5)
        assert future.done() and future.result().success
    finally:
        ctx.shutdown()


@needs_rclpy
def test_parameters_on_rclpy_types_read_only_and_callbacks():
    from vla_ros.runtime import Node
    from vla_ros.runtime.parameters import Parameter, ParameterDescriptor, SetParametersResult
    from vla_ros.runtime.ros import RosContext

    ctx = RosContext(args=[])
    try:
        node = Node("params", context=ctx, parameter_overrides={"rate_hz": 25.0})
        assert node.declare_parameter("rate_hz", 10.0).value == 25.0
        node.declare_parameter("robot", "panda", ParameterDescriptor(read_only=True))
        node.declare_parameter("gains", [1.0, 2.0])
        node.add_on_set_parameters_callback(
            lambda ps: SetParametersResult(successful=all(
                p.name != "gains" or len(p.value) == 2 for p in ps), reason="two gains"))
        assert not node.set_parameters([Parameter("robot", value="so101")])[0].successful
        assert not node.set_parameters([Parameter("gains", value=[1.0])])[0].successful
        assert node.set_parameters([Parameter("gains", value=[3.0, 4.0])])[0].successful
        assert list(node.get_parameter("gains").value) == [3.0, 4.0]
    finally:
        ctx.shutdown()


@needs_rclpy
def test_halt_path_on_rclpy_empty_trajectory_reaches_the_controller_topic():
    from vla_ros.nodes.retarget_node import RetargetNode
    from vla_ros.runtime import LATCHED, Node, msgs
    from vla_ros.runtime.ros import RosContext

    ctx = RosContext(args=[])
    try:
        RetargetNode(context=ctx)
        probe = Node("probe", context=ctx)
        got = []
        probe.create_subscription(msgs.JointTrajectory, "arm_controller/joint_trajectory",
                                  got.append, 10)
        halt = probe.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        ctx.spin_for(0.3)
        halt.publish(msgs.Bool(data=True))
        ctx.spin_for(0.5)
        assert got and len(got[-1].points) == 0  # the empty trajectory stops a JTC
    finally:
        ctx.shutdown()
