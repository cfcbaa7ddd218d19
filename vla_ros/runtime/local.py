"""The `local` backend: every node in one process, one deterministic executor.

Why: these machines (and CI, and many laptops) have no ROS 2, yet the nodes must run
unchanged here and on robots. The local backend implements the rclpy subset vla_ros uses:

- publish() copies a reference to each matching subscription queue (keep_last drops the
  oldest, counted per subscription) and marks the subscription ready; the executor runs
  ready callbacks in FIFO order, so delivery is in publish order, never reordered.
- timers fire in due-time order (ties: creation order); after each timer callback the
  messages it published are delivered before the next timer fires;
- with a sim clock, time advances only in `spin_for`/`spin_until_time`, jumping straight to
  the next due timer, so a minute of robot time can run in a second and every run is
  reproducible; with the wall clock the executor sleeps instead;
- transient_local publishers keep their last `depth` messages for late subscribers;
- optionally every published message is teed into a rosbag2 MCAP file.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import time as _time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vla_ros.runtime import msgs
from vla_ros.runtime.clock import NS, Clock, SimClock
from vla_ros.runtime.qos import Durability, QoSProfile, as_qos, compatible

log = logging.getLogger("vla_ros.runtime")


class GraphError(RuntimeError):
    """A topic/service graph inconsistency: type clash, wrong message type, shut-down context."""


class _Topic:
    __slots__ = ("name", "type_name", "publishers", "subscriptions")

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type_name = type_name
        self.publishers: list[LocalPublisher] = []
        self.subscriptions: list[LocalSubscription] = []


class LocalPublisher:
    def __init__(self, context: LocalContext, topic: _Topic, qos: QoSProfile, node: str) -> None:
        self._context = context
        self._topic = topic
        self.topic_name = topic.name
        self.qos = qos
        self.node_name = node
        self._type_name = topic.type_name
        self._history: deque | None = (
            deque(maxlen=qos.depth) if qos.durability is Durability.TRANSIENT_LOCAL else None
        )
        self._subs: list[LocalSubscription] = []
        self.published = 0
        self._destroyed = False
        self._refresh()

    def _refresh(self) -> None:
        subs = []
        for sub in self._topic.subscriptions:
            ok, reason = compatible(self.qos, sub.qos)
            if ok:
                subs.append(sub)
            else:
                log.warning("QoS mismatch on %s (%s -> %s): %s; they will not talk",
                            self.topic_name, self.node_name, sub.node_name, reason)
        self._subs = subs

    def publish(self, msg: Any) -> None:
        if getattr(msg, "__msgtype__", None) != self._type_name:
            got = getattr(msg, "__msgtype__", type(msg).__name__)
            raise GraphError(
                f"wrong message type published on {self.topic_name}: got {got}, "
                f"the topic carries {self._type_name}"
            )
        if self._destroyed:
            raise GraphError(f"publisher on {self.topic_name} was destroyed")
        self.published += 1
        if self._history is not None:
            self._history.append(msg)
        for sub in self._subs:
            sub._deliver(msg)
        bag = self._context.bag
        if bag is not None:
            bag.write(self.topic_name, self._type_name, msg, self._context.clock.now_ns())

    def get_subscription_count(self) -> int:
        return len(self._subs)

    def destroy(self) -> None:
        self._destroyed = True
        self._topic.publishers.remove(self)


class LocalSubscription:
    def __init__(
        self,
        context: LocalContext,
        topic: _Topic,
        callback: Callable[[Any], None],
        qos: QoSProfile,
        node: str,
    ) -> None:
        self._context = context
        self._topic = topic
        self.topic_name = topic.name
        self.callback = callback
        self.qos = qos
        self.node_name = node
        self._queue: deque = deque()
        self._depth = qos.depth if qos.history.value == "keep_last" else None
        self.dropped = 0
        self.received = 0

    def _deliver(self, msg: Any) -> None:
        queue = self._queue
        if self._depth is not None and len(queue) >= self._depth:
            queue.popleft()
            self.dropped += 1
        queue.append(msg)
        self._context._ready.append(self)

    def _take_and_run(self) -> None:
        if self._queue:
            msg = self._queue.popleft()
            self.received += 1
            self.callback(msg)

    def destroy(self) -> None:
        self._topic.subscriptions.remove(self)
        for pub in self._topic.publishers:
            pub._refresh()
        self._queue.clear()


class LocalTimer:
    def __init__(self, context: LocalContext, period_sec: float, callback: Callable[[], None],
                 node_name: str = ""):
        if not period_sec > 0:
            raise ValueError(f"timer period must be > 0 s, got {period_sec}")
        self._context = context
        self.node_name = node_name
        self.timer_period_ns = int(round(period_sec * NS))
        self.callback = callback
        self._canceled = False
        self._next_ns = context.clock.now_ns() + self.timer_period_ns
        self._generation = 0
        context._schedule(self)

    def cancel(self) -> None:
        self._canceled = True
        self._generation += 1

    def is_canceled(self) -> bool:
        return self._canceled

    def reset(self) -> None:
        self._canceled = False
        self._generation += 1
        self._next_ns = self._context.clock.now_ns() + self.timer_period_ns
        self._context._schedule(self)

    def time_until_next_call(self) -> float | None:
        if self._canceled:
            return None
        return (self._next_ns - self._context.clock.now_ns()) / NS

    def destroy(self) -> None:
        self.cancel()


class Future:
    """Result of an asynchronous service call (rclpy.task.Future subset)."""

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], None]] = []

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        if self._exception is not None:
            raise self._exception
        return self._result

    def exception(self) -> BaseException | None:
        return self._exception

    def set_result(self, value: Any) -> None:
        self._result, self._done = value, True
        for cb in self._callbacks:
            cb(self)

    def set_exception(self, exc: BaseException) -> None:
        self._exception, self._done = exc, True
        for cb in self._callbacks:
            cb(self)

    def add_done_callback(self, cb: Callable[[Future], None]) -> None:
        if self._done:
            cb(self)
        else:
            self._callbacks.append(cb)


class LocalService:
    def __init__(self, context: LocalContext, srv_type: msgs.SrvType, name: str, callback):
        self._context = context
        self.srv_type = srv_type
        self.srv_name = name
        self.callback = callback

    def _handle(self, request: Any, future: Future) -> None:
        try:
            response = self.callback(request, self.srv_type.Response())
            if not self.srv_type.Response.is_instance(response):
                raise GraphError(
                    f"service {self.srv_name} returned {type(response).__name__}, "
                    f"expected {self.srv_type.Response.name}"
                )
            future.set_result(response)
        except Exception as exc:  # the caller sees it; the executor goes on
            log.error("service %s failed: %s", self.srv_name, exc)
            future.set_exception(exc)

    def destroy(self) -> None:
        self._context._services.pop(self.srv_name, None)


class LocalClient:
    def __init__(self, context: LocalContext, srv_type: msgs.SrvType, name: str) -> None:
        self._context = context
        self.srv_type = srv_type
        self.srv_name = name

    def service_is_ready(self) -> bool:
        return self.srv_name in self._context._services

    def wait_for_service(self, timeout_sec: float | None = None) -> bool:
        return self.service_is_ready()

    def call_async(self, request: Any) -> Future:
        if not self.srv_type.Request.is_instance(request):
            raise GraphError(
                f"request for {self.srv_name} must be {self.srv_type.Request.name}, "
                f"got {getattr(request, '__msgtype__', type(request).__name__)}"
            )
        future = Future()
        service = self._context._services.get(self.srv_name)
        if service is None:
            future.set_exception(GraphError(f"no service {self.srv_name} is offered"))
            return future
        if service.srv_type.name != self.srv_type.name:
            future.set_exception(GraphError(
                f"service {self.srv_name} is {service.srv_type.name}, not {self.srv_type.name}"))
            return future
        self._context._ready.append(_Call(service, request, future))
        return future

    def call(self, request: Any, timeout_sec: float = 5.0) -> Any:
        """Blocking call: spins the executor until the response is in (not from a callback)."""
        future = self.call_async(request)
        self._context.spin_until_future_complete(future, timeout_sec)
        return future.result()

    def destroy(self) -> None:
        pass


class _Call:
    __slots__ = ("service", "request", "future")

    def __init__(self, service: LocalService, request: Any, future: Future) -> None:
        self.service, self.request, self.future = service, request, future

    def _take_and_run(self) -> None:
        self.service._handle(self.request, self.future)


class LocalContext:
    """One in-process ROS graph: topics, services, clock, executor and optional bag tee."""

    backend = "local"

    def __init__(
        self,
        *,
        sim_time: bool = True,
        start_time: float = 0.0,
        bag_path: str | Path | None = None,
        real_time_factor: float | None = None,
        isolate_crashes: bool = False,
    ) -> None:
        """`isolate_crashes`: an exception in a node's callback takes down that node only,
        as a crashing process would under ros2 launch (hooks in `crash_hooks` hear of it,
        e.g. the launcher's respawn); by default it propagates to the caller (tests)."""
        self.clock: Clock = SimClock(int(round(start_time * NS))) if sim_time else Clock()
        self.real_time_factor = real_time_factor
        self._topics: dict[str, _Topic] = {}
        self._services: dict[str, LocalService] = {}
        self._ready: deque = deque()
        self._timers: list[tuple[int, int, int, LocalTimer]] = []
        self._seq = itertools.count()
        self.nodes: list[Any] = []
        self.isolate_crashes = isolate_crashes
        self.crash_hooks: list[Callable[[Any, BaseException], None]] = []
        self.crashes: list[tuple[str, str]] = []  # (node, error) in the order they happened
        self._shutdown = False
        self.bag = None
        if bag_path is not None:
            from vla_ros.runtime.bag import BagTee

            self.bag = BagTee(bag_path)

    @property
    def use_sim_time(self) -> bool:
        return self.clock.is_sim

    # --- graph -----------------------------------------------------------------------
    def _topic(self, name: str, type_name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(name, type_name)
        elif topic.type_name != type_name:
            raise GraphError(
                f"topic {name} already carries {topic.type_name}; cannot use it for {type_name}"
            )
        return topic

    def attach(self, node, name: str, namespace: str, overrides: dict[str, Any]) -> None:
        """Nothing to create per node locally (the ros backend makes an rclpy node here)."""

    def node_clock(self, node) -> Clock:
        return self.clock

    # Entity factories take the calling Node and the name as written in node code; names
    # are resolved (namespace, ~, remaps) here so the ros backend can leave that to rcl.
    def create_publisher(self, msg_type: msgs.MsgType, name: str, qos, node):
        self._check_alive()
        topic = self._topic(node.resolve_topic_name(name), msg_type.name)
        pub = LocalPublisher(self, topic, as_qos(qos), node.get_fully_qualified_name())
        topic.publishers.append(pub)
        return pub

    def create_subscription(self, msg_type: msgs.MsgType, name: str, callback, qos, node):
        self._check_alive()
        topic = self._topic(node.resolve_topic_name(name), msg_type.name)
        sub = LocalSubscription(self, topic, callback, as_qos(qos),
                                node.get_fully_qualified_name())
        topic.subscriptions.append(sub)
        for pub in topic.publishers:
            pub._refresh()
            if (
                pub._history
                and sub.qos.durability is Durability.TRANSIENT_LOCAL
                and sub in pub._subs
            ):
                for msg in pub._history:
                    sub._deliver(msg)
        return sub

    def create_timer(self, period_sec: float, callback, node=None) -> LocalTimer:
        self._check_alive()
        owner = node.get_fully_qualified_name() if node is not None else ""
        return LocalTimer(self, period_sec, callback, owner)

    def create_service(self, srv_type: msgs.SrvType, name: str, callback, node) -> LocalService:
        name = node.resolve_topic_name(name)
        if name in self._services:
            raise GraphError(f"service {name} is already offered")
        service = self._services[name] = LocalService(self, srv_type, name, callback)
        return service

    def create_client(self, srv_type: msgs.SrvType, name: str, node) -> LocalClient:
        return LocalClient(self, srv_type, node.resolve_topic_name(name))

    def parameter_store(self, node, overrides: dict[str, Any], sources: dict[str, str] | None):
        from vla_ros.runtime.parameters import ParameterStore

        return ParameterStore(node.get_fully_qualified_name(), overrides, sources)

    def topic_names_and_types(self) -> list[tuple[str, list[str]]]:
        return sorted((name, [t.type_name]) for name, t in self._topics.items())

    def service_names(self) -> list[str]:
        return sorted(self._services)

    def _check_alive(self) -> None:
        if self._shutdown:
            raise GraphError("the local ROS context was shut down")

    # --- executor --------------------------------------------------------------------
    def _schedule(self, timer: LocalTimer) -> None:
        heapq.heappush(
            self._timers, (timer._next_ns, next(self._seq), timer._generation, timer)
        )

    def spin_some(self, max_callbacks: int | None = None) -> int:
        """Run every ready subscription/service callback (FIFO); returns how many ran."""
        ready = self._ready
        count = 0
        while ready:
            item = ready.popleft()
            if self.isolate_crashes:
                self._guarded(getattr(item, "node_name", ""), item._take_and_run)
            else:
                item._take_and_run()
            count += 1
            if max_callbacks is not None and count >= max_callbacks:
                break
        return count

    def _next_timer_ns(self) -> int | None:
        timers = self._timers
        while timers:
            due, _, generation, timer = timers[0]
            if timer._canceled or generation != timer._generation:
                heapq.heappop(timers)
                continue
            return due
        return None

    def _wait_until(self, target_ns: int) -> None:
        if self.clock.is_sim:
            assert isinstance(self.clock, SimClock)
            if target_ns > self.clock.now_ns():
                if self.real_time_factor:
                    delta = (target_ns - self.clock.now_ns()) / NS / self.real_time_factor
                    _time.sleep(max(0.0, delta - self._pace_debt()))
                    self._pace_mark = _time.perf_counter()
                self.clock.set_ns(target_ns)
        else:
            delay = (target_ns - self.clock.now_ns()) / NS
            if delay > 0:
                _time.sleep(delay)

    def _pace_debt(self) -> float:
        # Time already spent computing since the last wait counts against the next sleep.
        mark = getattr(self, "_pace_mark", None)
        return 0.0 if mark is None else _time.perf_counter() - mark

    def _guarded(self, node_name: str, callback: Callable[[], Any]) -> None:
        try:
            callback()
        except Exception as exc:
            node = next((n for n in self.nodes
                         if n.get_fully_qualified_name() == node_name), None)
            if node is None:
                raise
            self._crash(node, exc)

    def _crash(self, node, exc: BaseException) -> None:
        """The node's 'process' died: destroy it, tell the hooks, keep the graph going."""
        name = node.get_fully_qualified_name()
        log.error("node %s crashed: %s: %s", name, type(exc).__name__, exc,
                  exc_info=(type(exc), exc, exc.__traceback__))
        self.crashes.append((name, f"{type(exc).__name__}: {exc}"))
        try:
            node.destroy_node()
        except Exception as err:  # noqa: BLE001 - half-destroyed is still gone
            log.error("destroying crashed node %s failed: %s", name, err)
        for hook in list(self.crash_hooks):
            hook(node, exc)

    def kill_node(self, node, reason: str = "killed") -> None:
        """Fault injection: end a node as if its process had died (hooks run, e.g. respawn)."""
        self._crash(node, RuntimeError(reason))

    def spin_until_time(self, end_ns: int) -> None:
        """Advance to `end_ns`, firing timers in order and delivering messages between."""
        self.spin_some()
        while not self._shutdown:
            due = self._next_timer_ns()
            if due is None or due > end_ns:
                break
            self._wait_until(due)
            _, _, _, timer = heapq.heappop(self._timers)
            timer._next_ns = due + timer.timer_period_ns
            if not self.clock.is_sim and timer._next_ns <= self.clock.now_ns():
                timer._next_ns = self.clock.now_ns() + timer.timer_period_ns  # overrun: skip
            self._schedule(timer)
            if self.isolate_crashes:
                self._guarded(timer.node_name, timer.callback)
            else:
                timer.callback()
            self.spin_some()
        if not self._shutdown:
            self._wait_until(end_ns)
            self.spin_some()

    def spin_for(self, seconds: float) -> None:
        self.spin_until_time(self.clock.now_ns() + int(round(seconds * NS)))

    def spin_until(self, predicate: Callable[[], bool], timeout_sec: float,
                   step_sec: float = 0.001) -> bool:
        """Spin in `step_sec` slices until `predicate()` holds; False on timeout."""
        end = self.clock.now_ns() + int(round(timeout_sec * NS))
        self.spin_some()
        while not predicate():
            if self.clock.now_ns() >= end or self._shutdown:
                return False
            self.spin_until_time(min(end, self.clock.now_ns() + int(round(step_sec * NS))))
        return True

    def spin_until_future_complete(self, future: Future, timeout_sec: float = 5.0) -> None:
        if not self.spin_until(future.done, timeout_sec):
            raise TimeoutError("service call did not complete in time")

    def spin(self) -> None:
        """Run until shutdown (Ctrl-C stops it)."""
        try:
            while not self._shutdown:
                self.spin_for(0.05)
        except KeyboardInterrupt:
            pass

    def shutdown(self) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        for node in list(self.nodes):
            try:
                node.destroy_node()
            except Exception as exc:  # keep shutting the others down
                log.error("destroying node %s failed: %s", getattr(node, "name", node), exc)
        if self.bag is not None:
            self.bag.close()

    def ok(self) -> bool:
        return not self._shutdown

    def __enter__(self) -> LocalContext:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
