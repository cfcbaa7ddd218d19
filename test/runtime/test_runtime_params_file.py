"""ROS 2 parameter YAML: layout, rcl node-key matching, precedence, file:line errors."""

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vla_ros.runtime.param_file import (
    ParamDict,
    ParameterFileError,
    display_path,
    load_param_file,
    node_key_matches,
    params_for_node,
    parse_param_value,
)
from vla_ros.runtime.parameters import ParameterError, ParameterStore

FIXTURES = Path(__file__).resolve().parent.parent / "launch_fixtures"
PARAMS = FIXTURES / "params.yaml"


def line_of(path: Path, marker: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_file_is_flattened_per_node_key():
    data = load_param_file(PARAMS)
    assert data["/**"] == {"use_sim_time": False, "common": 1}
    talker = data["/**/talker"]
    assert talker["nested.a"] == 1 and talker["nested.b.c"] == "text"
    assert talker["joint_names"] == ["j1", "j2"]
    assert data["/panda/talker"] == {"by_nesting": 2.5}  # nested namespace keys
    assert data["/*/talk*"] == {"wildcard": True}  # YAML 1.1 `on`, as rcl reads it


@pytest.mark.parametrize(
    ("key", "node", "namespace", "matches"),
    [
        ("/**", "any", "/a/b", True),
        ("/**", "any", "/", True),
        ("/**/talker", "talker", "/a/b", True),
        ("/**/talker", "talker", "/", True),
        ("/**/talker", "listener", "/", False),
        ("talker", "talker", "/", True),
        ("talker", "talker", "/panda", False),  # rcl: a bare name is the root namespace
        ("/panda/talker", "talker", "/panda", True),
        ("panda/talker", "talker", "/panda", True),
        ("/panda/talker", "talker", "/ur5", False),
        ("/*/talker", "talker", "/panda", True),
        ("/*/talker", "talker", "/a/b", False),
        ("/*/talk*", "talker", "/panda", True),
        ("/*/talk*", "listener", "/panda", False),
        ("/a/**/n", "n", "/a", True),
        ("/a/**/n", "n", "/a/x/y", True),
        ("/a/**/n", "n", "/b/a", False),
        ("/a.b", "a_b", "/", False),  # regex characters are literal
    ],
)
def test_node_keys_match_like_rcl(key, node, namespace, matches):
    assert node_key_matches(key, node, namespace) is matches


def test_params_for_node_merges_matching_keys_in_file_order_with_sources():
    values, where = params_for_node([PARAMS], "talker", "/panda")
    assert values["by_nesting"] == 2.5 and values["wildcard"] is True
    assert values["rate_hz"] == 10.0 and values["common"] == 1
    assert "root_only" not in values  # `talker:` only matches /talker
    label = display_path(PARAMS)
    assert where["rate_hz"] == f"{label}:{line_of(PARAMS, 'rate_hz')}"
    assert where["nested.b.c"] == f"{label}:{line_of(PARAMS, 'c: ')}"
    root_values, _ = params_for_node([PARAMS], "talker", "/")
    assert root_values["root_only"] is True and "by_nesting" not in root_values


def test_later_sources_win():
    first, _ = params_for_node([PARAMS, {"rate_hz": 99.0}], "talker", "/")
    assert first["rate_hz"] == 99.0
    second, where = params_for_node([{"rate_hz": 99.0, "extra": {"k": 1}}, PARAMS],
                                    "talker", "/")
    assert second["rate_hz"] == 10.0 and second["extra.k"] == 1
    assert where["extra.k"] == "parameter dict #1"
    cli = ParamDict({"rate_hz": 5.0}, source="command line -p")
    _, where = params_for_node([PARAMS, cli], "talker", "/")
    assert where["rate_hz"] == "command line -p"


def test_sources_feed_parameter_store_errors():
    values, where = params_for_node([PARAMS], "talker", "/panda")
    store = ParameterStore("/panda/talker", values, where)
    with pytest.raises(ParameterError) as err:
        store.declare("joint_names", 3)
    assert f"{display_path(PARAMS)}:{line_of(PARAMS, 'joint_names')}" in str(err.value)


@pytest.mark.parametrize(
    ("text", "marker", "message"),
    [
        ("/**:\n  ros__parameters:\n    a: [1, 2\n    b: 3\n", "b: 3", "syntax"),
        ("node:\n  params:\n    a: 1\n", "a: 1", "no 'ros__parameters'"),
        ("node:\n  ros__parameters:\n    a: 1\n    empty:\n", "empty:", "null"),
        ("node:\n  ros__parameters:\n    mixed: [1, 2.5]\n", "mixed", "mixes element types"),
        ("node:\n  ros__parameters:\n    bad: [{a: 1}]\n", "bad", "plain values"),
        ("node:\n  ros__parameters: 3\n", "ros__parameters", "must be a mapping"),
        ("- a\n- b\n", "- a", "maps node names"),
        ("ros__parameters:\n  a: 1\n", "ros__parameters", "under a node name"),
        ("node:\n  ros__parameters:\n    blob: !!binary aGVsbG8=\n", "blob",
         "not a ROS parameter"),
    ],
)
def test_bad_files_are_reported_with_file_and_line(tmp_path, text, marker, message):
    path = write(tmp_path, text)
    with pytest.raises(ParameterFileError) as err:
        load_param_file(path)
    assert f"{display_path(path)}:{line_of(path, marker)}" in str(err.value)
    assert message in str(err.value)


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ParameterFileError, match="cannot read"):
        load_param_file(tmp_path / "nope.yaml")
    assert load_param_file(write(tmp_path, "# only a comment\n")) == {}


def test_edited_file_is_read_again(tmp_path):
    path = write(tmp_path, "n:\n  ros__parameters:\n    a: 1\n")
    assert load_param_file(path)["n"]["a"] == 1
    path.write_text("n:\n  ros__parameters:\n    a: 22\n")
    os.utime(path, ns=(1, 1))
    assert load_param_file(path)["n"]["a"] == 22


def test_dict_values_are_checked_too():
    with pytest.raises(ParameterFileError, match=r"launch.xml:3.*'bad'"):
        params_for_node([ParamDict({"bad": None}, sources={"bad": "launch.xml:3"})], "n", "/")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-3", -3), ("1.0", 1.0), ("1e3", 1000.0), (".5", 0.5), ("true", True),
     ("False", False), ("[1, 2]", [1, 2]), ("[a, b]", ["a", "b"]), ("hello", "hello"),
     ("'42'", "42"), ("null", "null"), ("2001-12-14", "2001-12-14"),
     ("{a: 1}", "{a: 1}"), ("", ""), ("a: b: c", "a: b: c")],
)
def test_parse_param_value_uses_yaml_typing(text, value):
    parsed = parse_param_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_param_value_refuses_broken_and_mixed_lists():
    with pytest.raises(ParameterFileError, match="not valid YAML"):
        parse_param_value("[1, 2")
    with pytest.raises(ParameterFileError, match="mixes"):
        parse_param_value("[1, 2.5]")


@given(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                 st.booleans()))
def test_parse_param_value_round_trips_numbers(value):
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    parsed = parse_param_value(text)
    assert parsed == value and type(parsed) is type(value)
