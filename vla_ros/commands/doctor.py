"""`vla-ros doctor`: what works on this machine, and how to fix what does not.

Each check is a small function returning a `Finding`; none of them needs the network or
changes anything. A failed *required* check makes the exit status 1 (CI, install scripts);
optional parts (rclpy, GPU, cameras, LeRobot) only warn.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vla_ros.provenance import pinned_version

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Finding:
    name: str
    status: str
    detail: str
    fix: str = ""


def _version(module: str) -> str | None:
    try:
        mod = importlib.import_module(module)
    except Exception:  # noqa: BLE001 - a broken install is a finding, not a crash
        return None
    return str(getattr(mod, "__version__", "installed"))


def check_python() -> Finding:
    ok = sys.version_info[:2] >= (3, 10)
    return Finding("python", OK if ok else FAIL, sys.version.split()[0],
                   "" if ok else "use Python 3.10+ (3.11 on Debian 12, 3.12 on Ubuntu 24.04)")


def check_rclpy() -> Finding:
    version = _version("rclpy")
    distro = os.environ.get("ROS_DISTRO", "")
    if version:
        return Finding("rclpy (ros backend)", OK, f"ROS 2 {distro or '?'}: nodes can run under "
                       "ros2 run / ros2 launch")
    return Finding("rclpy (ros backend)", WARN, "not importable: nodes run on the local backend",
                   "on a robot: source /opt/ros/jazzy/setup.bash (or use docker/Dockerfile)")


def check_mujoco() -> Finding:
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco
    except Exception as err:  # noqa: BLE001
        return Finding("mujoco", FAIL, f"cannot import: {err}", "pip install 'vla_ros[sim]'")
    backend = os.environ.get("MUJOCO_GL", "")
    try:
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><light pos='0 0 1'/><geom size='.1'/></worldbody></mujoco>")
        with mujoco.Renderer(model, 32, 32) as renderer:
            renderer.update_scene(mujoco.MjData(model))
            frame = renderer.render()
        detail = f"{mujoco.__version__}, offscreen rendering via MUJOCO_GL={backend}: " \
                 f"{frame.shape[1]}x{frame.shape[0]} ok"
    except Exception as err:  # noqa: BLE001
        return Finding("mujoco rendering", FAIL, f"MUJOCO_GL={backend}: {err}",
                       "apt install libegl1 libgl1 (EGL), or MUJOCO_GL=osmesa with libosmesa6")
    pinned = pinned_version("mujoco")
    if pinned and pinned != mujoco.__version__:
        return Finding("mujoco rendering", WARN,
                       f"{detail}; but vla_ros pins mujoco {pinned}: closed-loop success "
                       "differs from docs/results.md on other versions",
                       f"pip install mujoco=={pinned}")
    return Finding("mujoco rendering", OK, detail)


def check_robot_models() -> Finding:
    try:
        from vla_ros.assets import robot_data_dir

        robots = robot_data_dir()
    except Exception as err:  # noqa: BLE001
        return Finding("robot models", FAIL, str(err), "pip install example-robot-data")
    have = [r for r in ("panda_description", "so_arm_description", "allegro_hand_description",
                        "g1_description") if (robots / r).is_dir()]
    status = OK if len(have) == 4 else WARN
    return Finding("robot models", status, f"example-robot-data: {', '.join(have)}",
                   "" if status == OK else "pip install -U example-robot-data")


def check_ik() -> Finding:
    missing = [m for m in ("pinocchio", "daqp") if _version(m) is None]
    if missing:
        return Finding("QP IK", FAIL, f"missing {missing}", "pip install 'vla_ros[retarget]'")
    return Finding("QP IK", OK, f"pinocchio {_version('pinocchio')}, daqp")


def check_torch() -> Finding:
    try:
        import torch
    except Exception as err:  # noqa: BLE001
        return Finding("torch", FAIL, f"cannot import: {err}",
                       "pip install torch==2.13.0 (CPU) or the CUDA wheel for your GPU")
    if torch.cuda.is_available():
        return Finding("torch / GPU", OK, f"{torch.__version__}, CUDA: "
                       f"{torch.cuda.get_device_name(0)}")
    return Finding("torch / GPU", WARN, f"{torch.__version__}, no CUDA GPU: training and "
                   "inference run on the CPU", "a CUDA build of torch and an NVIDIA driver")


def check_video() -> Finding:
    try:
        import av
    except Exception as err:  # noqa: BLE001
        return Finding("video encoding", FAIL, f"PyAV: {err}", "pip install av")
    codecs = [c for c in ("libx264", "libsvtav1") if c in av.codecs_available]
    if not codecs:
        return Finding("video encoding", FAIL, "no libx264/libsvtav1 in PyAV",
                       "pip install --force-reinstall av (the wheels bundle both)")
    return Finding("video encoding", OK, f"PyAV {av.__version__}: {', '.join(codecs)}")


def check_cameras() -> Finding:
    devices = sorted(glob.glob("/dev/video*"))
    if not devices:
        return Finding("cameras", WARN, "no /dev/video* device",
                       "plug in a USB camera, or use perception sources topic/file/folder")
    try:
        import cv2
    except Exception:  # noqa: BLE001
        return Finding("cameras", WARN, f"{devices} present; OpenCV missing",
                       "pip install opencv-python-headless")
    readable = []
    for dev in devices[:4]:
        cap = cv2.VideoCapture(dev)
        ok, _ = cap.read() if cap.isOpened() else (False, None)
        cap.release()
        if ok:
            readable.append(dev)
    status = OK if readable else WARN
    return Finding("cameras", status, f"devices {devices}; delivering frames: {readable}",
                   "" if readable else "check permissions (group 'video') and that no other "
                   "program holds the camera")


def check_checkpoint(path: Path) -> Finding:
    if not path.exists():
        return Finding("policy checkpoint", WARN, f"{path} does not exist",
                       "train one: vla-ros train --help (or pass --checkpoint)")
    try:
        from vla_ros.policy.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
    except Exception as err:  # noqa: BLE001
        return Finding("policy checkpoint", FAIL, f"{path}: {err}",
                       "re-train or restore the folder (config.json, model.safetensors, "
                       "normalization.json)")
    tensors = sum(int(t.numel()) for t in ckpt.state_dict.values())
    return Finding("policy checkpoint", OK, f"{path}: {len(ckpt.state_dict)} tensors, "
                   f"{tensors / 1e6:.2f} M parameters, safetensors (no pickle)")


def check_optional(module: str, what: str, fix: str) -> Finding:
    version = _version(module)
    return Finding(what, OK if version else WARN, version or "not installed", "" if version
                   else fix)


def default_checkpoint() -> Path:
    from vla_ros.assets import PACKAGE_ROOT

    return PACKAGE_ROOT / "checkpoints" / "default"


def run_checks(checkpoint: Path) -> list[Finding]:
    checks: list[Callable[[], Finding]] = [
        check_python, check_rclpy, check_mujoco, check_robot_models, check_ik, check_torch,
        check_video, check_cameras, lambda: check_checkpoint(checkpoint),
        lambda: check_optional("websockets", "policy server", "pip install 'vla_ros[server]'"),
        lambda: check_optional("lerobot", "LeRobot adapter",
                               "optional: pip install 'vla_ros[lerobot]' in its own venv"),
    ]
    return [check() for check in checks]


REQUIRED = {"python", "mujoco", "mujoco rendering", "robot models", "QP IK", "video encoding",
            "policy checkpoint"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this machine: ROS 2, MuJoCo GL, cameras, GPU, "
                       "checkpoint", description="Check the environment vla_ros runs in and "
                       "print how to fix what does not work. Exit status 1 if a required "
                       "part fails.")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="policy checkpoint folder to verify (default: checkpoints/default)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    findings = run_checks(args.checkpoint or default_checkpoint())
    table = Table(title="vla-ros doctor", show_lines=False)
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column, overflow="fold")
    colour = {OK: "green", WARN: "yellow", FAIL: "red"}
    for f in findings:
        table.add_row(escape(f.name), f"[{colour[f.status]}]{f.status}[/]", escape(f.detail),
                      escape(f.fix))
    Console().print(table)
    failed = [f.name for f in findings if f.status == FAIL and f.name in REQUIRED]
    return 1 if failed else 0
