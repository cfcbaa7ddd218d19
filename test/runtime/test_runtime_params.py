"""Parameters behave like rclpy's: typing, overrides, ranges, read-only, callbacks."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vla_ros.runtime.parameters import (
    Parameter,
    ParameterAlreadyDeclaredError,
    ParameterDescriptor,
    ParameterError,
    ParameterNotDeclaredError,
    ParameterStore,
    ParameterType,
    ParameterTypeError,
    ParameterUninitializedError,
    ParameterValueError,
    SetParametersResult,
)

T = ParameterType


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, T.BOOL), (False, T.BOOL), (3, T.INTEGER), (2.5, T.DOUBLE), ("x", T.STRING),
        ([1.0, 2.0], T.DOUBLE_ARRAY), ([True, False], T.BOOL_ARRAY), ([1, 2], T.INTEGER_ARRAY),
        (["a", "b"], T.STRING_ARRAY), (b"\x01\x02", T.BYTE_ARRAY), ((1, 2), T.INTEGER_ARRAY),
        (np.float32(0.5), T.DOUBLE), (np.int64(7), T.INTEGER), (np.array([1.0, 2.0]),
                                                                T.DOUBLE_ARRAY),
        (None, T.NOT_SET),
    ],
)
def test_type_is_inferred_like_rclpy(value, expected):
    parameter = Parameter("p", value=value)
    assert parameter.type_ == expected
    assert Parameter.Type is ParameterType


def test_bool_is_not_an_integer_and_values_are_plain_python():
    assert Parameter("b", value=True).type_ != ParameterType.INTEGER
    with pytest.raises(ParameterTypeError, match="not of type integer"):
        Parameter("b", ParameterType.INTEGER, True)
    value = Parameter("a", value=np.array([1.5, 2.5])).value
    assert value == [1.5, 2.5] and type(value) is list and type(value[0]) is float


def test_empty_and_mixed_lists_need_care():
    with pytest.raises(ParameterTypeError, match="empty list"):
        Parameter("ids", value=[])
    assert Parameter("ids", ParameterType.INTEGER_ARRAY, []).value == []
    with pytest.raises(ParameterTypeError, match="mixes element types"):
        Parameter("gains", value=[1, 2.5])
    with pytest.raises(ParameterTypeError, match="not a ROS parameter type"):
        Parameter("d", value={"a": 1})


scalars = st.one_of(st.booleans(), st.integers(-2**62, 2**62),
                    st.floats(allow_nan=False), st.text(max_size=8))


@given(st.one_of(scalars, st.lists(st.integers(-1000, 1000), min_size=1),
                 st.lists(st.floats(allow_nan=False), min_size=1),
                 st.lists(st.text(max_size=4), min_size=1)))
def test_value_round_trips_with_its_inferred_type(value):
    parameter = Parameter("p", value=value)
    again = Parameter("p", parameter.type_, parameter.value)
    assert again == parameter
    assert parameter.value == (list(value) if isinstance(value, list) else value)


def test_override_wins_and_int_is_accepted_for_double():
    store = ParameterStore("/arm/retarget", {"rate": 50, "name": "left"})
    rate = store.declare("rate", 30.0)
    assert rate.value == 50.0 and isinstance(rate.value, float)
    assert rate.type_ == ParameterType.DOUBLE
    assert store.declare("name", "right").value == "left"
    assert store.declare("gain", 2.0).value == 2.0  # no override: default
    assert store.get_value("rate") == 50.0
    assert store.names() == ["gain", "name", "rate"]


def test_override_of_wrong_type_names_parameter_node_types_and_source():
    store = ParameterStore("/arm/retarget", {"rate": "fast"},
                           {"rate": "config/retarget.yaml:7"})
    with pytest.raises(ParameterTypeError) as err:
        store.declare("rate", 30.0)
    message = str(err.value)
    for part in ("'rate'", "/arm/retarget", "expected double", "string",
                 "config/retarget.yaml:7"):
        assert part in message
    assert isinstance(err.value, ParameterError) and isinstance(err.value, ValueError)


def test_ignore_override_keeps_the_default():
    store = ParameterStore("/n", {"rate": 5.0})
    assert store.declare("rate", 1.0, ignore_override=True).value == 1.0
    assert store.unused_overrides() == ["rate"]


def test_unused_overrides_point_at_typos():
    store = ParameterStore("/n", {"rate": 1.0, "rtae": 2.0})
    store.declare("rate", 0.5)
    assert store.unused_overrides() == ["rtae"]


def test_undeclared_and_redeclared():
    store = ParameterStore("/n", {})
    with pytest.raises(ParameterNotDeclaredError, match="'missing' is not declared by node '/n'"):
        store.get("missing")
    with pytest.raises(KeyError):
        store.get_value("missing")
    with pytest.raises(ParameterNotDeclaredError):
        store.set([Parameter("missing", value=1)])
    store.declare("x", 1)
    assert store.has("x") and not store.has("y")
    with pytest.raises(ParameterAlreadyDeclaredError, match="already declared"):
        store.declare("x", 2)


def test_typed_declaration_without_default_needs_a_value():
    store = ParameterStore("/n", {"given": ["a"]})
    store.declare("names", ParameterType.STRING_ARRAY)
    with pytest.raises(ParameterUninitializedError, match="string array"):
        store.get("names")
    assert store.set([Parameter("names", value=["x"])])[0].successful
    assert store.get_value("names") == ["x"]
    assert store.declare("given", ParameterType.STRING_ARRAY).value == ["a"]
    assert store.declare("empty_ok", ParameterType.DOUBLE_ARRAY).type_ == ParameterType.NOT_SET


def test_empty_list_override_takes_the_declared_array_type():
    store = ParameterStore("/n", {"ids": []})
    parameter = store.declare("ids", [1, 2])
    assert parameter.value == [] and parameter.type_ == ParameterType.INTEGER_ARRAY


def test_set_checks_type_read_only_and_ranges():
    store = ParameterStore("/n", {})
    store.declare("gain", 1.0, ParameterDescriptor(floating_point_range=(0.0, 2.0, 0.5)))
    store.declare("count", 4, ParameterDescriptor(integer_range=(0, 10, 2)))
    store.declare("frame", "base", ParameterDescriptor(read_only=True))
    results = store.set([
        Parameter("gain", value=1.5),     # on the grid
        Parameter("gain", value=1.2),     # off the grid
        Parameter("gain", value=3.0),     # outside
        Parameter("count", value=10),     # the upper bound is always allowed
        Parameter("count", value=3),      # off the grid
        Parameter("gain", value="high"),  # wrong type
        Parameter("frame", value="tool"),  # read-only
        Parameter("gain", value=2),       # int for double
    ])
    assert [r.successful for r in results] == [True, False, False, True, False, False, False,
                                               True]
    assert "step" in results[1].reason and "range" in results[2].reason
    assert "expected double" in results[5].reason and "read-only" in results[6].reason
    assert store.get_value("gain") == 2.0 and store.get_value("count") == 10
    assert store.get_value("frame") == "base"


def test_declaring_outside_the_range_is_an_error():
    store = ParameterStore("/n", {"gain": 5.0}, {"gain": "command line -p"})
    with pytest.raises(ParameterValueError, match=r"command line -p.*outside"):
        store.declare("gain", 1.0, ParameterDescriptor(floating_point_range=(0.0, 2.0, 0.0)))


def test_callbacks_can_refuse_and_newest_is_asked_first():
    store = ParameterStore("/n", {})
    store.declare("speed", 1.0)
    calls = []

    def cap(params):
        calls.append("cap")
        ok = all(p.value <= 5.0 for p in params)
        return SetParametersResult(ok, "" if ok else "speed above 5")

    def log(params):
        calls.append("log")
        return SetParametersResult(True)

    store.add_on_set_callback(cap)
    store.add_on_set_callback(log)
    refused = store.set([Parameter("speed", value=9.0)])[0]
    assert not refused.successful and "speed above 5" in refused.reason
    assert store.get_value("speed") == 1.0
    assert calls == ["log", "cap"]
    store.remove_on_set_callback(cap)
    assert store.set([Parameter("speed", value=9.0)])[0].successful
    with pytest.raises(ParameterError):
        store.remove_on_set_callback(cap)


def test_callbacks_see_declarations_too():
    store = ParameterStore("/n", {"speed": 9.0})
    store.add_on_set_callback(lambda ps: SetParametersResult(ps[0].value < 5, "too fast"))
    with pytest.raises(ParameterValueError, match="too fast"):
        store.declare("speed", 1.0)


def test_declare_many_prefixes_the_namespace_and_dynamic_typing():
    store = ParameterStore("/n", {"ik.damping": 0.1})
    params = store.declare_many("ik", [("damping", 1e-3), ("iterations", 10),
                                       ("mode", "qp", ParameterDescriptor(description="d"))])
    assert [p.name for p in params] == ["ik.damping", "ik.iterations", "ik.mode"]
    assert params[0].value == 0.1
    assert store.describe("ik.mode").description == "d"
    store.declare("anything", None, ParameterDescriptor(dynamic_typing=True))
    assert store.set([Parameter("anything", value="text")])[0].successful
    assert store.set([Parameter("anything", value=3)])[0].successful
    assert store.get_value("anything") == 3
