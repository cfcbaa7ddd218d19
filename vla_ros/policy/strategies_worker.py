"""Run policy inference in a background thread and push its chunks into an executor.

The control loop must keep ticking while a slow policy (or a remote server) thinks; this
worker is the "async" in async inference. It runs one request at a time (a policy is not
assumed thread-safe), pushes each chunk into the executor with its arrival time, and keeps
the last error so the control loop can report it and hold instead of dying in a thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vla_ros.policy.interface import ActionChunk, Observation
from vla_ros.policy.strategies import ChunkExecutor


class InferenceWorker:
    """`submit(observation)` starts an inference unless one is running; results are pushed.

    `clock` gives the arrival time passed to `executor.push` (the same clock as the
    observation stamps, e.g. the node's ROS clock); by default `time.monotonic`.
    """

    def __init__(self, infer: Callable[[Observation], ActionChunk], executor: ChunkExecutor,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._infer = infer
        self._executor = executor
        self._clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.completed = 0
        self.failed = 0
        self.last_latency: float | None = None  # seconds, wall time of the last inference

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def submit(self, observation: Observation) -> bool:
        """Start inference on `observation` in the background; False if one is running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._executor.inference_started(observation.stamp)
            self._thread = threading.Thread(target=self._run, args=(observation,),
                                            name="policy-inference", daemon=True)
            self._thread.start()
            return True

    def _run(self, observation: Observation) -> None:
        start = time.perf_counter()
        try:
            chunk = self._infer(observation)
        except Exception as err:  # handed to the control loop via take_error()
            self._executor.inference_failed()
            with self._lock:
                self._error = err
                self.failed += 1
            return
        self.last_latency = time.perf_counter() - start
        self._executor.push(chunk, now=self._clock())
        with self._lock:
            self.completed += 1

    def take_error(self) -> BaseException | None:
        """The error of the last failed inference (once), e.g. a PolicyTimeout, or None."""
        with self._lock:
            err, self._error = self._error, None
            return err

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the running inference; True when none is running afterwards."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
