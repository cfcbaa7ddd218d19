"""The local backend's delivery, QoS, timer, service and naming semantics."""

import pytest

from vla_ros.runtime import LATCHED, Durability, Node, QoSProfile, Reliability, msgs
from vla_ros.runtime.local import GraphError, LocalContext
from vla_ros.runtime.names import InvalidNameError


@pytest.fixture
def ctx():
    context = LocalContext(sim_time=True)
    yield context
    context.shutdown()


def _string(i):
    return msgs.String(data=str(i))


def test_every_message_arrives_in_publish_order(ctx):
    a = Node("a", context=ctx)
    b = Node("b", context=ctx)
    got = []
    b.create_subscription(msgs.String, "chatter", lambda m: got.append(int(m.data)), 1000)
    pub = a.create_publisher(msgs.String, "chatter", 1000)
    for i in range(500):
        pub.publish(_string(i))
        if i % 7 == 0:
            ctx.spin_some()
    ctx.spin_some()
    assert got == list(range(500))


def test_keep_last_drops_the_oldest(ctx):
    node = Node("n", context=ctx)
    got = []
    sub = node.create_subscription(msgs.String, "t", lambda m: got.append(m.data), 3)
    pub = node.create_publisher(msgs.String, "t", 10)
    for i in range(5):
        pub.publish(_string(i))
    ctx.spin_some()
    assert got == ["2", "3", "4"]
    assert sub.dropped == 2


def test_transient_local_delivers_last_message_to_late_subscriber(ctx):
    node = Node("n", context=ctx)
    pub = node.create_publisher(msgs.Bool, "safety/halt", LATCHED)
    pub.publish(msgs.Bool(data=False))
    pub.publish(msgs.Bool(data=True))
    late, volatile = [], []
    node.create_subscription(msgs.Bool, "safety/halt", lambda m: late.append(m.data), LATCHED)
    node.create_subscription(msgs.Bool, "safety/halt", lambda m: volatile.append(m.data), 10)
    ctx.spin_some()
    assert late == [True]  # depth 1: only the last one
    assert volatile == []


def test_incompatible_qos_does_not_connect(ctx):
    node = Node("n", context=ctx)
    got = []
    node.create_subscription(msgs.String, "t", got.append,
                             QoSProfile(depth=5, reliability=Reliability.RELIABLE))
    pub = node.create_publisher(msgs.String, "t",
                                QoSProfile(depth=5, reliability=Reliability.BEST_EFFORT))
    node.create_subscription(msgs.String, "t2", got.append,
                             QoSProfile(depth=1, durability=Durability.TRANSIENT_LOCAL))
    pub2 = node.create_publisher(msgs.String, "t2", 5)
    pub.publish(_string(1))
    pub2.publish(_string(2))
    ctx.spin_some()
    assert got == []
    assert pub.get_subscription_count() == 0


def test_wrong_message_type_is_refused_with_topic_name(ctx):
    node = Node("n", context=ctx)
    pub = node.create_publisher(msgs.String, "chatter", 10)
    with pytest.raises(GraphError, match=r"/chatter.*sensor_msgs/msg/JointState"):
        pub.publish(msgs.JointState())
    with pytest.raises(GraphError, match="already carries std_msgs/msg/String"):
        node.create_publisher(msgs.Bool, "chatter", 10)


def test_timers_fire_on_sim_time_exactly(ctx):
    node = Node("n", context=ctx)
    fast, slow = [], []
    node.create_timer(0.1, lambda: fast.append(ctx.clock.now().nanoseconds))
    node.create_timer(0.25, lambda: slow.append(ctx.clock.now().nanoseconds))
    ctx.spin_for(1.0)
    assert fast == [i * 100_000_000 for i in range(1, 11)]
    assert slow == [250_000_000, 500_000_000, 750_000_000, 1_000_000_000]
    assert ctx.clock.now().nanoseconds == 1_000_000_000


def test_timer_cancel_and_messages_between_timers(ctx):
    node = Node("n", context=ctx)
    order = []
    pub = node.create_publisher(msgs.String, "t", 10)
    node.create_subscription(msgs.String, "t", lambda m: order.append("msg" + m.data), 10)
    timer = node.create_timer(0.1, lambda: (order.append("tick"), pub.publish(_string(1))))
    ctx.spin_for(0.2)
    timer.cancel()
    ctx.spin_for(0.5)
    assert order == ["tick", "msg1", "tick", "msg1"]


def test_trigger_service_round_trip(ctx):
    server = Node("server", namespace="robot", context=ctx)
    calls = []

    def handle(request, response):
        calls.append(request)
        response.success = True
        response.message = "reset done"
        return response

    server.create_service(msgs.Trigger, "~/reset", handle)
    client = Node("client", context=ctx).create_client(msgs.Trigger, "/robot/server/reset")
    assert client.wait_for_service(0.1)
    response = client.call(msgs.Trigger.Request())
    assert response.success and response.message == "reset done"
    assert len(calls) == 1
    missing = Node("c2", context=ctx).create_client(msgs.Trigger, "/nobody/reset")
    with pytest.raises(GraphError, match="no service /nobody/reset"):
        missing.call(msgs.Trigger.Request())


def test_name_resolution_and_remaps(ctx):
    node = Node("cam", namespace="/left", context=ctx,
                remappings=[("image_raw", "/camera/left/image_raw"), ("~/out", "/processed")])
    assert node.resolve_topic_name("image_raw") == "/camera/left/image_raw"
    assert node.resolve_topic_name("info") == "/left/info"
    assert node.resolve_topic_name("~/status") == "/left/cam/status"
    assert node.resolve_topic_name("~/out") == "/processed"
    assert node.resolve_topic_name("/abs") == "/abs"
    with pytest.raises(InvalidNameError, match="malformed remap"):
        Node("bad", context=ctx, remappings=[("a", "")])
    with pytest.raises(InvalidNameError, match="9lives"):
        node.resolve_topic_name("9lives")


def test_node_parameters_from_overrides(ctx):
    node = Node("p", context=ctx, parameter_overrides={"rate": 50.0},
                param_sources={"rate": "config/x.yaml"})
    assert node.declare_parameter("rate", 10.0).value == 50.0
    assert node.declare_parameter("horizon", 16).value == 16
    assert node.get_parameter("use_sim_time").value is True


def test_shutdown_refuses_new_entities():
    ctx = LocalContext()
    node = Node("n", context=ctx)
    ctx.shutdown()
    with pytest.raises(GraphError, match="shut down"):
        node.create_publisher(msgs.String, "x", 1)
