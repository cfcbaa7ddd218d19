"""`vla-ros soak`: the closed loop under a fault schedule, checked for safety invariants.

launch/soak.launch.xml runs sim → perception → policy → retargeting → sim plus the
recorder on the local backend with crash isolation (a dying node ends alone, as a
process would) and launch `respawn`. A schedule then cycles through the fault classes:

- `camera_drop`   the sim drops half of its camera frames for a while;
- `policy_delay`  every inference times out (as a slow remote policy does);
- `garbage_chunk` malformed chunks on policy/action_chunk (NaN, inf, wrong width, unknown
                  names, bad times, absurd targets);
- `node_kill`     perception_node or policy_node is killed; launch restarts it;
- `halt_toggle`   safety/halt is raised, then cleared with the nodes' ~/reset services.

A monitor checks every command sent to the controllers: finite, inside joint limits,
increasing times, and nothing but empty trajectories while halted. At the end every
episode the recorder confirmed must be readable in the dataset. The report is a
markdown table (`report.md`) and `report.json`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_ros.commands.launch import find_launch_file
from vla_ros.runtime import LATCHED, Node, msgs
from vla_ros.runtime.clock import duration_msg_to_seconds
from vla_ros.runtime.convert import trajectory_msg
from vla_ros.runtime.entry import configure_logging
from vla_ros.runtime.launcher import launch_local
from vla_ros.runtime.local import LocalContext
from vla_ros.runtime.parameters import Parameter

FAULTS = ("camera_drop", "policy_delay", "garbage_chunk", "node_kill", "halt_toggle")
LIMIT_TOLERANCE = 1e-6


@dataclass
class SoakReport:
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    injected: Counter = field(default_factory=Counter)
    outcomes: dict[str, Counter] = field(default_factory=dict)
    commands: int = 0
    empty_commands: int = 0
    unsafe: list[str] = field(default_factory=list)
    crashes: list[tuple[str, str]] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    episodes_confirmed: int = 0
    episodes_refused: list[str] = field(default_factory=list)
    episodes_in_dataset: int = 0
    dataset_problems: list[str] = field(default_factory=list)
    nodes_alive: list[str] = field(default_factory=list)

    def outcome(self, fault: str, what: str, n: int = 1) -> None:
        self.outcomes.setdefault(fault, Counter())[what] += n

    @property
    def unexpected_crashes(self) -> list[tuple[str, str]]:
        killed = Counter(self.killed)
        out = []
        for name, error in self.crashes:
            if killed[name] > 0 and "fault injection" in error:
                killed[name] -= 1
            else:
                out.append((name, error))
        return out

    @property
    def ok(self) -> bool:
        return (not self.unsafe and not self.unexpected_crashes and not self.dataset_problems
                and self.episodes_in_dataset == self.episodes_confirmed)

    def markdown(self) -> str:
        rows = ["| fault | injected | what the stack did |", "|---|---|---|"]
        for fault in FAULTS:
            seen = ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.get(fault, {}).items()))
            rows.append(f"| {fault} | {self.injected[fault]} | {seen or '-'} |")
        refused = Counter(re.sub(r"\d+", "N", r.split(";")[0]) for r in self.episodes_refused)
        rows += [
            "",
            f"- sim time {self.sim_seconds:.0f} s, wall {self.wall_seconds:.0f} s",
            f"- controller commands checked: {self.commands} ({self.empty_commands} empty "
            f"holds); unsafe: {len(self.unsafe)}",
            f"- node crashes: {len(self.crashes)} ({len(self.killed)} injected kills, "
            f"{len(self.unexpected_crashes)} unexpected)",
            f"- episodes confirmed by the recorder: {self.episodes_confirmed}, in the dataset: "
            f"{self.episodes_in_dataset}; refused by the recorder's own checks: "
            + (", ".join(f"{v}× {k}" for k, v in refused.items()) or "none"),
            f"- nodes alive at the end: {', '.join(sorted(self.nodes_alive))}",
            f"- verdict: {'PASS' if self.ok else 'FAIL'}",
        ]
        return "\n".join(rows) + "\n"


class CommandMonitor(Node):
    """Checks every controller command: finite, within limits, increasing times, halts."""

    def __init__(self, context, limits: dict[str, tuple[float, float]], topics: list[str],
                 report: SoakReport) -> None:
        super().__init__("soak_monitor", context=context)
        self.limits, self.report = limits, report
        self.halted_since: float | None = None  # set by the harness when it raises halt
        self.saw_empty_since_halt = False
        self.warnings: Counter = Counter()  # node -> WARN/ERROR diagnostics seen
        for topic in topics:
            self.create_subscription(msgs.JointTrajectory, topic,
                                     lambda m, t=topic: self.check(t, m), 100)
        self.create_subscription(msgs.DiagnosticArray, "/diagnostics", self.on_diagnostics, 100)

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.level >= 1:
                self.warnings[status.name.split(":")[0]] += 1

    def now(self) -> float:
        return self.get_clock().now().seconds

    def check(self, topic: str, msg) -> None:
        report = self.report
        report.commands += 1
        where = f"{topic} at t={self.now():.2f}"
        if not msg.points:
            report.empty_commands += 1
            if self.halted_since is not None:
                self.saw_empty_since_halt = True
            return
        if self.halted_since is not None:
            report.unsafe.append(f"{where}: a non-empty trajectory while halted")
        previous = -1.0
        for k, point in enumerate(msg.points):
            t = duration_msg_to_seconds(point.time_from_start)
            if not t > previous:
                report.unsafe.append(f"{where}: point {k} time {t} not after {previous}")
            previous = t
            positions = np.asarray(point.positions, float)
            if positions.shape != (len(msg.joint_names),):
                report.unsafe.append(f"{where}: point {k} has {positions.size} positions")
                continue
            for name, value in zip(msg.joint_names, positions, strict=True):
                lo, hi = self.limits.get(name, (-np.inf, np.inf))
                if name not in self.limits:
                    report.unsafe.append(f"{where}: unknown joint {name}")
                elif not np.isfinite(value) or not lo - LIMIT_TOLERANCE <= value <= hi + \
                        LIMIT_TOLERANCE:
                    report.unsafe.append(f"{where}: {name}={value} outside [{lo}, {hi}]")


def garbage_chunks(rng: np.random.Generator, names: list[str]) -> list[Any]:
    """Malformed action chunks of every kind the retarget node must refuse or contain."""
    good_times = [0.1, 0.2, 0.3]
    width = len(names)
    nan = rng.normal(size=(3, width))
    nan[1, 0] = np.nan
    chunks = []
    msg = trajectory_msg(names, rng.normal(size=(3, width)), good_times)
    msg.points[1].positions = nan[1]  # NaN slipped past the sender
    chunks.append(msg)
    inf = trajectory_msg(names, rng.normal(size=(3, width)), good_times)
    inf.points[0].positions[-1] = np.inf
    chunks.append(inf)
    chunks.append(trajectory_msg(names[:-1], rng.normal(size=(3, width - 1)), good_times))
    chunks.append(trajectory_msg([*names[:-1], "warp_drive"], rng.normal(size=(3, width)),
                                 good_times))
    backwards = trajectory_msg(names, rng.normal(size=(3, width)), good_times)
    backwards.points[2].time_from_start = backwards.points[0].time_from_start
    chunks.append(backwards)
    chunks.append(trajectory_msg(names, 1e6 * rng.normal(size=(3, width)), good_times))
    chunks.append(msgs.JointTrajectory(joint_names=names))  # no points
    return chunks


class Harness:
    """Starts the soak graph and drives the fault schedule."""

    def __init__(self, out: Path, robot: str, task: str, checkpoint: str, seed: int,
                 episode_s: float, fault_period_s: float) -> None:
        self.out, self.robot = out, robot
        self.rng = np.random.default_rng(seed)
        self.episode_s, self.fault_period_s = episode_s, fault_period_s
        self.report = SoakReport()
        dataset = out / "dataset"
        self.dataset = dataset
        self.ctx = LocalContext(sim_time=True, isolate_crashes=True)
        nodes = launch_local(find_launch_file("soak.launch.xml"),
                             {"robot": robot, "task": task, "dataset": str(dataset),
                              "policy_checkpoint": checkpoint}, self.ctx)
        self.sim = next(n for n in nodes if n.get_name() == "mujoco_sim")
        self.names_expected = sorted(n.get_name() for n in nodes)
        limits = {name: (float(lo), float(hi)) for name, lo, hi in
                  zip(self.sim.env.joint_names, self.sim.env.lower, self.sim.env.upper,
                      strict=True)}
        topics = [f"{c}/joint_trajectory" for c in self.sim.controllers]
        self.monitor = CommandMonitor(self.ctx, limits, topics, self.report)
        self.probe = Node("soak_probe", context=self.ctx)
        self.chunk_pub = self.probe.create_publisher(msgs.JointTrajectory,
                                                     "policy/action_chunk", 10)
        self.halt_pub = self.probe.create_publisher(msgs.Bool, "safety/halt", LATCHED)
        self.action_names = list(self.node("policy_node").policy.metadata.action_names)

    # --- graph helpers --------------------------------------------------------------
    def node(self, name: str):
        return next((n for n in self.ctx.nodes if n.get_name() == name), None)

    def call(self, service: str) -> Any:
        client = self.probe.create_client(msgs.Trigger, service)
        if not client.service_is_ready():
            return None
        try:
            return client.call(msgs.Trigger.Request())
        finally:
            client.destroy()

    def now(self) -> float:
        return self.probe.get_clock().now().seconds

    # --- episodes ---------------------------------------------------------------------
    def start_episode(self) -> None:
        for service in ("/mujoco_sim/reset", "/policy_node/reset", "/retarget_node/reset"):
            self.call(service)
        response = self.call("/recorder_node/start_episode")
        if response is None or not response.success:
            self.report.episodes_refused.append(
                "start: " + (response.message if response else "recorder down"))

    def stop_episode(self) -> None:
        response = self.call("/recorder_node/stop_episode")
        if response is not None and response.success:
            self.report.episodes_confirmed += 1
        elif response is not None:
            self.report.episodes_refused.append(response.message)

    # --- faults -------------------------------------------------------------------------
    def inject(self, fault: str, duration: float) -> None:
        """Apply `fault` for `duration` sim seconds while the loop runs."""
        report = self.report
        report.injected[fault] += 1
        if fault == "camera_drop":
            dropped = self.sim.frames_dropped
            warned = self.monitor.warnings["policy_node"]
            self.sim.set_parameters([Parameter("camera_drop_probability", value=0.5)])
            self.ctx.spin_for(duration)
            self.sim.set_parameters([Parameter("camera_drop_probability", value=0.0)])
            report.outcome(fault, "frames dropped", self.sim.frames_dropped - dropped)
            report.outcome(fault, "policy diagnostics (stale/missing input)",
                           self.monitor.warnings["policy_node"] - warned)
        elif fault == "policy_delay":
            policy_node = self.node("policy_node")
            if policy_node is None:
                report.outcome(fault, "skipped: policy_node down")
                self.ctx.spin_for(duration)
                return
            self._stall(policy_node, duration)
        elif fault == "garbage_chunk":
            warned = self.monitor.warnings["retarget_node"]
            for msg in garbage_chunks(self.rng, self.action_names):
                msg.header.stamp = self.probe.get_clock().now().to_msg()
                self.chunk_pub.publish(msg)
                report.outcome(fault, "garbage chunks sent")
                self.ctx.spin_for(duration / 8)
            report.outcome(fault, "retarget warnings (rejections, holds)",
                           self.monitor.warnings["retarget_node"] - warned)
        elif fault == "node_kill":
            victim = ("perception_node", "policy_node")[report.injected[fault] % 2]
            node = self.node(victim)
            if node is None:
                report.outcome(fault, f"skipped: {victim} already down")
            else:
                report.killed.append(node.get_fully_qualified_name())
                self.ctx.kill_node(node, "fault injection")
                self.ctx.spin_for(duration)
                back = self.node(victim) is not None
                report.outcome(fault, f"{victim} respawned" if back else f"{victim} NOT back")
        elif fault == "halt_toggle":
            self.monitor.halted_since = self.now()
            self.monitor.saw_empty_since_halt = False
            self.halt_pub.publish(msgs.Bool(data=True))
            self.ctx.spin_some()  # one round of callbacks: the hold must be out by now
            report.outcome(fault, "empty trajectory within one callback"
                           if self.monitor.saw_empty_since_halt else "NO empty trajectory")
            self.ctx.spin_for(duration)
            self.halt_pub.publish(msgs.Bool(data=False))
            self.monitor.halted_since = None
            self.ctx.spin_some()
            for service in ("/policy_node/reset", "/retarget_node/reset"):
                self.call(service)

    def _stall(self, policy_node, duration: float) -> None:
        from vla_ros.policy.remote_errors import PolicyTimeout

        policy = policy_node.policy
        real_infer = policy.infer
        stalled = Counter()

        def timeout(observation):
            stalled["calls"] += 1
            raise PolicyTimeout("soak: inference held back (fault injection)")

        policy.infer = timeout
        before = self.report.empty_commands
        try:
            self.ctx.spin_for(duration)
        finally:
            policy.infer = real_infer
        self.report.outcome("policy_delay", "inferences timed out, no chunk", stalled["calls"])
        held = self.report.empty_commands > before
        self.report.outcome("policy_delay", "retarget watchdog hold (empty trajectory)" if held
                            else "arm stopped at the last chunk's end (no hold needed)")

    # --- the run ------------------------------------------------------------------------
    def run(self, sim_seconds: float, progress: bool = True) -> SoakReport:
        wall = time.perf_counter()
        start = self.now()
        next_episode = start + self.episode_s
        fault_index = 0
        self.start_episode()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=int(sim_seconds), unit="sim s", desc="soak")
        while self.now() - start < sim_seconds:
            before = self.now()
            self.ctx.spin_for(self.fault_period_s / 2)  # quiet stretch
            fault = FAULTS[fault_index % len(FAULTS)]
            fault_index += 1
            self.inject(fault, self.fault_period_s / 2)
            if self.now() >= next_episode:
                self.stop_episode()
                self.start_episode()
                next_episode = self.now() + self.episode_s
            if bar is not None:
                bar.update(int(self.now() - start) - bar.n)
                bar.set_postfix(unsafe=len(self.report.unsafe), episodes=self.report
                                .episodes_confirmed, refresh=False)
            if self.now() <= before:  # the context was shut down
                break
        self.stop_episode()
        if bar is not None:
            bar.close()
        report = self.report
        report.sim_seconds = self.now() - start
        report.crashes = list(self.ctx.crashes)
        report.nodes_alive = [n.get_name() for n in self.ctx.nodes]
        missing = sorted(set(self.names_expected) - set(report.nodes_alive))
        if missing:
            report.unsafe.append(f"nodes gone at the end: {missing}")
        self.ctx.shutdown()
        report.wall_seconds = time.perf_counter() - wall
        self._check_dataset()
        return report

    def _check_dataset(self) -> None:
        from vla_ros.data import DatasetReader

        report = self.report
        if not self.dataset.exists():
            if report.episodes_confirmed:
                report.dataset_problems.append(f"{self.dataset} missing")
            return
        try:
            reader = DatasetReader(self.dataset)
            report.episodes_in_dataset = reader.num_episodes
            for i in range(reader.num_episodes):
                reader.episode(i)
            check = reader.validate()
            if not check.ok:
                report.dataset_problems.append(str(check))
        except Exception as err:  # noqa: BLE001 - any failure to read back is the finding
            report.dataset_problems.append(f"{type(err).__name__}: {err}")


def run_soak(out: Path, sim_seconds: float, *, robot: str = "panda", task: str = "pick_cube",
             checkpoint: str = "", seed: int = 0, episode_s: float = 12.0,
             fault_period_s: float = 4.0, progress: bool = True) -> SoakReport:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    harness = Harness(out, robot, task, checkpoint, seed, episode_s, fault_period_s)
    report = harness.run(sim_seconds, progress)
    (out / "report.md").write_text(report.markdown())
    (out / "report.json").write_text(json.dumps({
        "ok": report.ok, "sim_seconds": report.sim_seconds,
        "wall_seconds": report.wall_seconds, "injected": dict(report.injected),
        "outcomes": {k: dict(v) for k, v in report.outcomes.items()},
        "commands": report.commands, "unsafe": report.unsafe, "crashes": report.crashes,
        "episodes_confirmed": report.episodes_confirmed,
        "episodes_in_dataset": report.episodes_in_dataset,
        "episodes_refused": report.episodes_refused,
        "dataset_problems": report.dataset_problems}, indent=1))
    return report


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("soak", help="run the closed loop under injected faults and check "
                       "safety invariants", description=__doc__.split("\n\n")[0] + " Faults: "
                       + ", ".join(FAULTS) + ". Exit status 1 if an invariant broke.")
    p.add_argument("--sim-minutes", type=float, default=10.0, help="sim time to run (10)")
    p.add_argument("--out", type=Path, default=Path("out/soak"), help="report + dataset folder")
    p.add_argument("--robot", default="panda")
    p.add_argument("--task", default="pick_cube")
    p.add_argument("--checkpoint", default="", help="policy checkpoint ('' = the default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episode-s", type=float, default=12.0, help="sim seconds per episode")
    p.add_argument("--fault-period-s", type=float, default=4.0,
                   help="sim seconds per quiet stretch + fault window")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    configure_logging("error")
    report = run_soak(args.out, args.sim_minutes * 60.0, robot=args.robot, task=args.task,
                      checkpoint=args.checkpoint, seed=args.seed, episode_s=args.episode_s,
                      fault_period_s=args.fault_period_s)
    print(report.markdown())
    for problem in report.unsafe[:20] + [f"{n}: {e}" for n, e in report.unexpected_crashes]:
        print(f"  ! {problem}")
    print(f"wrote {args.out / 'report.md'}")
    return 0 if report.ok else 1
