"""Crash isolation and launch `respawn` on the local backend.

Under ros2 launch each node is a process: one crashing leaves the others running, and
`respawn="true"` restarts it. `LocalContext(isolate_crashes=True)` gives the same
behaviour in one process; the soak test relies on it.
"""

from __future__ import annotations

import pytest

from vla_ros.runtime import Node, msgs
from vla_ros.runtime.launcher import launch_local
from vla_ros.runtime.local import LocalContext

LAUNCH = """<launch>
  <node pkg="vla_ros" exec="talker" name="talker" respawn="true" respawn_delay="0.5"/>
  <node pkg="vla_ros" exec="listener" name="listener"/>
</launch>
"""


def test_a_crashing_callback_takes_down_only_its_node():
    ctx = LocalContext(isolate_crashes=True)
    bad, good = Node("bad", context=ctx), Node("good", context=ctx)
    heard = []

    def explode(msg):
        raise ZeroDivisionError("boom")

    bad.create_subscription(msgs.String, "chatter", explode, 10)
    good.create_subscription(msgs.String, "chatter", heard.append, 10)
    pub = Node("pub", context=ctx).create_publisher(msgs.String, "chatter", 10)
    pub.publish(msgs.String(data="a"))
    ctx.spin_some()
    pub.publish(msgs.String(data="b"))
    ctx.spin_some()
    assert [m.data for m in heard] == ["a", "b"]
    assert ctx.crashes == [("/bad", "ZeroDivisionError: boom")]
    assert bad not in ctx.nodes and good in ctx.nodes
    ctx.shutdown()


def test_without_isolation_the_exception_reaches_the_caller():
    ctx = LocalContext()
    node = Node("n", context=ctx)
    node.create_timer(0.1, lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ctx.spin_for(0.2)


def test_respawn_restarts_a_killed_node_after_its_delay(tmp_path):
    launch = tmp_path / "respawn.launch.xml"
    launch.write_text(LAUNCH)
    ctx = LocalContext(isolate_crashes=True)
    talker, listener = launch_local(launch, {}, ctx)
    ctx.spin_for(0.5)
    before = len(listener.received)
    assert before > 0
    ctx.kill_node(talker, "fault injection")
    ctx.spin_for(0.4)  # dead: nothing new
    assert len(listener.received) == before and talker not in ctx.nodes
    ctx.spin_for(0.6)  # respawned at 0.5 s and publishing again
    assert len(listener.received) > before
    assert [n.get_name() for n in ctx.nodes].count("talker") == 1
    ctx.kill_node(listener)  # no respawn flag: stays down
    ctx.spin_for(1.0)
    assert "listener" not in [n.get_name() for n in ctx.nodes]
    ctx.shutdown()
