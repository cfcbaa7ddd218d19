"""The import rules that keep the layers honest (docs/architecture.md)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "vla_ros"
CORES = ["perception", "policy", "retarget", "safety", "sim", "data", "teleop"]


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def test_only_the_ros_backend_imports_rclpy():
    offenders = []
    for path in python_files(ROOT):
        ros_names = {m for m in imports(path) if m.split(".")[0] in {
            "rclpy", "rcl_interfaces", "launch", "launch_ros"}}
        if ros_names and path.relative_to(ROOT).as_posix() != "runtime/ros.py":
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(ros_names)}")
    assert offenders == []


def test_cores_never_import_nodes_or_runtime():
    offenders = []
    for core in CORES:
        for path in python_files(ROOT / core):
            bad = {m for m in imports(path)
                   if m.startswith(("vla_ros.nodes", "vla_ros.runtime"))}
            if bad:
                offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_nodes_never_import_each_other():
    offenders = []
    for path in python_files(ROOT / "nodes"):
        bad = {m for m in imports(path) if m.startswith("vla_ros.nodes")}
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert offenders == []


def test_the_layer_check_sees_files():
    # Guards against the checks above passing vacuously on an empty or moved tree.
    assert len(python_files(ROOT / "runtime")) >= 8
    assert (ROOT / "runtime" / "ros.py").is_file()
