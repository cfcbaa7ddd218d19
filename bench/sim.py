"""Simulator speed: physics steps/s, render ms per frame, closed-loop real-time factor.

    nice .venv/bin/python bench/sim.py [--robot panda so101] [--seconds 8]

Closed loop = what the `mujoco_sim` node does per control tick: new joint targets at
20 Hz (replayed from a recorded expert episode, so the policy/IK cost is not counted),
physics at 500 Hz, camera frames at 10 Hz. The real-time factor (RTF) is simulated
seconds per wall-clock second; the goal is RTF >= 2 with one 128x128 camera. The last
column adds the scripted expert (QP IK every control step) to the loop.

Rendering runs on the CPU here (Mesa llvmpipe through EGL); on a machine shared with
other jobs the wall-clock numbers move with the load, so CPU seconds are shown too.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")

from vla_ros.sim.env import SimEnv  # noqa: E402
from vla_ros.sim.rollout import run_expert_episode  # noqa: E402

CONTROL_HZ = 20.0
CAMERA_HZ = 10.0
TASK = "cube_in_bowl"


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def physics_steps_per_s(env: SimEnv, steps: int = 4000) -> tuple[float, float]:
    env.reset(seed=0, task=TASK)
    wall, cpu = _timed(lambda: env.step(steps))
    return steps / wall, steps / cpu


def render_ms(env: SimEnv, camera: str, size: int, frames: int = 20) -> tuple[float, float]:
    env.reset(seed=0, task=TASK)
    env.render(camera, size, size)  # context and buffers
    wall, cpu = _timed(lambda: [env.render(camera, size, size) for _ in range(frames)])
    return 1e3 * wall / frames, 1e3 * cpu / frames


def closed_loop_rtf(env: SimEnv, targets: np.ndarray, names: list[str], cameras: tuple[str, ...],
                    size: int) -> tuple[float, float]:  # fmt: skip
    """Replay joint targets at CONTROL_HZ with cameras at CAMERA_HZ; RTF (wall, CPU)."""
    env.reset(seed=0, task=TASK)
    n_sub = int(round(1 / CONTROL_HZ / env.timestep))
    every = int(round(CONTROL_HZ / CAMERA_HZ))
    for cam in cameras:
        env.render(cam, size, size)

    def loop():
        for k, q in enumerate(targets):
            if k % every == 0:
                for cam in cameras:
                    env.render(cam, size, size)
            env.set_position_targets(names, q)
            env.step(n_sub)

    wall, cpu = _timed(loop)
    sim_s = len(targets) / CONTROL_HZ
    return sim_s / wall, sim_s / cpu


def expert_rtf(env: SimEnv, size: int) -> float:
    w = time.perf_counter()
    r = run_expert_episode(env, TASK, 0, cameras=("scene",), image_size=(size, size),
                           control_hz=CONTROL_HZ)
    # The rollout renders every control step (20 Hz): count the loop at that rate.
    return r.duration / (time.perf_counter() - w)


def bench(robot: str) -> list[tuple[str, str]]:
    env = SimEnv(robot)
    rows = []
    sps = physics_steps_per_s(env)
    rows.append(("physics steps/s (dt 2 ms)", f"{sps[0]:,.0f} ({sps[1]:,.0f} per CPU s)"))
    for size in (128, 224):
        for cam in ("scene", "wrist"):
            ms = render_ms(env, cam, size)
            rows.append((f"render {cam} {size}x{size}", f"{ms[0]:.1f} ms ({ms[1]:.1f} CPU ms)"))
    ref = run_expert_episode(env, TASK, 0, control_hz=CONTROL_HZ)
    for cams in (("scene",), ("scene", "wrist")):
        for size in (128, 224):
            rtf = closed_loop_rtf(env, ref.action_joints, ref.action_joint_names, cams, size)
            rows.append((f"closed loop RTF, {len(cams)} camera(s) {size}x{size} @10 Hz",
                         f"{rtf[0]:.1f}x ({rtf[1]:.1f}x per CPU s)"))
    rows.append(("expert in the loop RTF, 1 camera 128x128 @20 Hz",
                 f"{expert_rtf(env, 128):.1f}x"))
    env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robot", nargs="+", default=["panda", "so101"])
    args = parser.parse_args()
    print(f"MUJOCO_GL={os.environ['MUJOCO_GL']}, task {TASK}, control {CONTROL_HZ:.0f} Hz, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| robot | measure | value |\n|---|---|---|")
    for robot in args.robot:
        for name, value in bench(robot):
            print(f"| {robot} | {name} | {value} |", flush=True)


if __name__ == "__main__":
    main()
