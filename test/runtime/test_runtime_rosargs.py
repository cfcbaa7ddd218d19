"""`--ros-args` parsing follows rcl's grammar; names follow ROS 2 rules."""

import pytest

from vla_ros.runtime.rosargs import (
    RosArgsError,
    TopicNameError,
    normalize_namespace,
    parse_ros_args,
    validate_node_name,
    validate_topic_name,
)


def test_full_command_line():
    args = parse_ros_args([
        "policy_node", "--checkpoint", "x", "--ros-args",
        "-p", "rate:=10", "--param", "gains:=[1.0, 2.0]", "-p", "frame:=tool0",
        "-r", "image:=/cam/image_raw", "--remap", "~/out:=/actions",
        "--params-file", "config/policy.yaml", "--log-level", "debug",
        "-e", "/enclave", "--disable-rosout-logs", "--", "--after", "1",
    ])
    assert args.params == {"rate": 10, "gains": [1.0, 2.0], "frame": "tool0"}
    assert args.remaps == [("image", "/cam/image_raw"), ("~/out", "/actions")]
    assert args.param_files == ["config/policy.yaml"]
    assert args.log_level == "debug"
    assert args.remaining == ["policy_node", "--checkpoint", "x", "--after", "1"]
    assert args.node_name is None and args.namespace is None
    assert args.params.sources["rate"] == "command line -p rate:=10"


def test_no_ros_args_leaves_everything_and_double_dash_outside_is_kept():
    argv = ["a", "--", "-p", "x:=1"]
    args = parse_ros_args(argv)
    assert args.remaining == argv and not args.params and not args.remaps


def test_several_sections_and_section_running_to_the_end():
    args = parse_ros_args(["--ros-args", "-p", "a:=1", "--", "mid", "--ros-args", "-p",
                           "b:=true"])
    assert args.params == {"a": 1, "b": True} and args.remaining == ["mid"]


def test_node_targeted_rules_stay_with_their_node_in_order():
    args = parse_ros_args(["--ros-args", "-r", "talker:chatter:=/a", "-r", "chatter:=/b",
                           "-p", "talker:rate:=5.0", "-p", "rate:=1.0",
                           "-r", "talker:__node:=speaker", "-r", "__ns:=robot",
                           "-r", "listener:__ns:=/other"])
    assert args.remaps == [("chatter", "/b")]
    assert args.node_remaps == {"talker": [("chatter", "/a")]}
    assert args.remaps_for("talker") == [("chatter", "/a"), ("chatter", "/b")]
    assert args.remaps_for("listener") == [("chatter", "/b")]
    assert args.params_for("talker") == {"rate": 5.0}
    assert args.params_for("listener") == {"rate": 1.0}
    assert args.name_for("talker") == "speaker" and args.name_for("listener") is None
    assert args.namespace == "/robot"
    assert args.namespace_for("listener") == "/other" and args.namespace_for("x") == "/robot"


def test_special_rules_and_logger_levels():
    args = parse_ros_args(["--ros-args", "-r", "__node:=arm", "-r", "__name:=arm2",
                           "--log-level", "rcl:=WARN", "--log-level", "info"])
    assert args.node_name == "arm2"
    assert args.logger_levels == {"rcl": "warn"} and args.log_level == "info"


@pytest.mark.parametrize(
    ("argv", "quoted"),
    [
        (["-r", "foo"], "-r foo"),
        (["-r", ":=x"], "-r :=x"),
        (["--remap", "a:="], "--remap a:="),
        (["-r", "a:=1bad"], "-r a:=1bad"),
        (["-r", "a b:=c"], "-r a b:=c"),
        (["-r", "9node:a:=b"], "-r 9node:a:=b"),
        (["-r", "__node:=my-node"], "-r __node:=my-node"),
        (["-r", "__ns:=/a//b"], "-r __ns:=/a//b"),
        (["-p", "=3"], "-p =3"),
        (["-p", ":=3"], "-p :=3"),
        (["-p", "bad name:=3"], "-p bad name:=3"),
        (["-p", "x:=[1, 2.5]"], "-p x:=[1, 2.5]"),
        (["-p"], "-p"),
        (["--params-file"], "--params-file"),
        (["-p", "--", "x"], "-p"),
        (["--log-level", "loud"], "--log-level loud"),
        (["--frobnicate"], "--frobnicate"),
    ],
)
def test_malformed_arguments_are_named(argv, quoted):
    with pytest.raises(RosArgsError) as err:
        parse_ros_args(["--ros-args", *argv])
    assert quoted in str(err.value)


@pytest.mark.parametrize(
    "name", ["chatter", "/chatter", "~/private", "~", "a/b/c", "/a_1/b2", "{node}/out", "_x"]
)
def test_valid_topic_names(name):
    assert validate_topic_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"), ("a/", "end with '/'"), ("a//b", "'//'"), ("1abc", "digit"),
        ("a/2b", "digit"), ("a-b", "character '-'"), ("a~", "first character"),
        ("~a", "followed by '/'"), ("a{b", "unmatched"), ("a}b", "unmatched"),
        ("{a{b}}", "nested"), ("a b", "character ' '"), ("é", "character"),
    ],
)
def test_invalid_topic_names_say_why(name, reason):
    with pytest.raises(TopicNameError) as err:
        validate_topic_name(name)
    assert reason in str(err.value)


def test_node_names_and_namespaces():
    assert validate_node_name("retarget_node") == "retarget_node"
    for bad in ("", "1node", "a/b", "a-b"):
        with pytest.raises(TopicNameError):
            validate_node_name(bad)
    assert normalize_namespace("") == "/" and normalize_namespace("a/b/") == "/a/b"
    with pytest.raises(TopicNameError, match="token '2x'"):
        normalize_namespace("/ok/2x")
