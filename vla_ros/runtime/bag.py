"""rosbag2 recording and replay in MCAP storage, through rosbags.

The local executor tees every published message here (CDR-serialised, as on the wire), so
a local run leaves a bag that `ros2 bag play`, Foxglove and rosbags read like any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from vla_ros.runtime import msgs


class BagError(RuntimeError):
    """A bag could not be written or read (path exists, not a bag, corrupt)."""


class BagTee:
    """Write messages to a rosbag2 (MCAP) folder; connections are added per topic on first use."""

    def __init__(self, path: str | Path, topics: set[str] | None = None) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"bag path {self.path} already exists; rosbag2 never overwrites")
        self._topics = topics
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections: dict[str, Any] = {}
        self._store = msgs.typestore()
        self.count = 0

    def write(self, topic: str, type_name: str, msg: Any, stamp_ns: int) -> None:
        if self._topics is not None and topic not in self._topics:
            return
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._connections[topic] = self._writer.add_connection(
                topic, type_name, typestore=self._store
            )
        self._writer.write(conn, stamp_ns, self._store.serialize_cdr(msg, type_name))
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@dataclass(frozen=True)
class BagMessage:
    topic: str
    type_name: str
    stamp_ns: int
    msg: Any


def read_bag(path: str | Path, topics: set[str] | None = None) -> Iterator[BagMessage]:
    """Every message of a rosbag2 folder (MCAP or sqlite3), in log-time order."""
    path = Path(path)
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 folder (no metadata.yaml)")
    store = msgs.typestore()
    with Reader(path) as reader:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for conn, stamp, raw in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, stamp,
                             store.deserialize_cdr(raw, conn.msgtype))


def bag_summary(path: str | Path) -> dict[str, tuple[str, int]]:
    """topic -> (type, message count), from the bag's metadata."""
    with Reader(Path(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
