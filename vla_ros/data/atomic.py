"""Crash-safe file updates: fsync helpers, the writer lock, and the episode commit journal.

An episode becomes visible through several files (data parquet, one mp4 per camera,
episodes metadata, tasks, stats, info.json). One rename cannot publish them all, so a
commit is a small redo log:

1. every new file version is written under `.vla_ros/staging/<episode>/out/<dataset path>`
   and fsynced;
2. `MANIFEST.json` (the list of paths, in publishing order) is written atomically: this is
   the commit point;
3. each staged file is renamed over its dataset path, info.json last, and directories
   are fsynced;
4. the staging folder is removed.

A crash before step 2 leaves the dataset exactly as it was (the staging folder is
quarantined on the next open). A crash after it is finished on the next open by
replaying the renames, which is idempotent because a staged file disappears when renamed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from vla_ros.data.errors import CorruptDatasetError, DatasetLockedError
from vla_ros.data.layout import LOCK_PATH, QUARANTINE_DIR, STAGING_DIR

MANIFEST = "MANIFEST.json"
STAGED_FILES = "out"

# Test hook: called with a step name ("staged", "manifest", "published-one") so a test
# can kill the process at an exact point of a commit. None in normal use.
fault_hook: Callable[[str], None] | None = None


def _fault(step: str) -> None:
    if fault_hook is not None:
        fault_hook(step)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: object) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=4, ensure_ascii=False) + "\n").encode())


class WriterLock:
    """An exclusive flock on `.vla_ros/lock`: one writer per dataset at a time.

    The kernel drops the lock when the process dies, so a SIGKILLed recorder never leaves
    a stale lock behind.
    """

    def __init__(self, root: Path, timeout_s: float = 5.0):
        self.path = root / LOCK_PATH
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    os.close(self._fd)
                    raise DatasetLockedError(
                        f"{root}: another writer (pid {holder}) has this dataset open; "
                        "close it first") from None
                time.sleep(0.05)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, str(os.getpid()).encode(), 0)

    def _holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1

    @staticmethod
    def try_acquire(root: Path) -> WriterLock | None:
        """The lock if it is free right now, else None (a live writer holds it)."""
        try:
            return WriterLock(root, timeout_s=0.0)
        except (DatasetLockedError, OSError):  # held, or a read-only copy of a dataset
            return None


class StagedCommit:
    """The staging folder of one episode and the commit that publishes it."""

    def __init__(self, root: Path, name: str):
        self.root = root
        self.dir = root / STAGING_DIR / name
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        fsync_dir(self.dir.parent)

    def scratch(self, name: str) -> Path:
        """A private file in the staging folder (encoder output and the like)."""
        return self.dir / name

    def stage(self, relpath: str) -> Path:
        """Where to write the new version of dataset file `relpath`."""
        path = self.dir / STAGED_FILES / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def commit(self, order: Iterable[str]) -> None:
        """Publish the staged files in `order` (the last one is what makes them visible)."""
        order = list(order)
        for rel in order:
            staged = self.dir / STAGED_FILES / rel
            if not staged.is_file():
                raise FileNotFoundError(f"staged file missing before commit: {staged}")
            fsync_file(staged)
        for folder in sorted({(self.dir / STAGED_FILES / rel).parent for rel in order}):
            fsync_dir(folder)
        _fault("staged")
        write_json_atomic(self.dir / MANIFEST, {"publish": order})
        _fault("manifest")
        _publish(self.root, self.dir, order)
        self.discard()

    def discard(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
            fsync_dir(self.dir.parent)


def _publish(root: Path, staging: Path, order: list[str]) -> None:
    touched: set[Path] = set()
    for i, rel in enumerate(order):
        src = staging / STAGED_FILES / rel
        dst = root / rel
        if src.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            touched.add(dst.parent)
        elif not dst.exists():
            raise CorruptDatasetError(dst, f"commit journal {staging / MANIFEST} lists this file "
                                           "but neither the staged copy nor the target exists")
        if i == 0:
            _fault("published-one")
    for folder in sorted(touched):
        fsync_dir(folder)


@dataclass(frozen=True)
class Recovery:
    """What `recover` did to one staging folder."""

    staging: Path
    action: str  # "completed" (a committed episode was finished) or "quarantined"
    moved_to: Path | None = None

    def message(self) -> str:
        if self.action == "completed":
            return (f"finished publishing an episode whose commit was interrupted "
                    f"({self.staging.name})")
        return (f"found a partly written episode ({self.staging.name}): the recorder stopped "
                f"before save_episode() completed; moved it aside to {self.moved_to}")


def pending_commits(root: Path) -> list[Path]:
    """Staging folders whose commit point was reached but whose publishing did not finish."""
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return []
    return sorted(d for d in staging.iterdir() if (d / MANIFEST).is_file())


def uncommitted(root: Path) -> list[Path]:
    """Staging folders without a manifest: an episode in progress or a crashed one."""
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return []
    return sorted(d for d in staging.iterdir() if d.is_dir() and not (d / MANIFEST).exists())


def recover(root: Path, quarantine: bool = True) -> list[Recovery]:
    """Finish committed episodes and (if `quarantine`) move uncommitted ones aside.

    The caller must hold the writer lock.
    """
    staging = root / STAGING_DIR
    if not staging.is_dir():
        return []
    done: list[Recovery] = []
    for folder in sorted(staging.iterdir()):
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                order = json.loads(manifest.read_text())["publish"]
            except (ValueError, KeyError, OSError) as exc:
                raise CorruptDatasetError(manifest, f"unreadable commit journal: {exc}") from exc
            _publish(root, folder, list(order))
            shutil.rmtree(folder)
            done.append(Recovery(folder, "completed"))
        elif quarantine:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            target = root / QUARANTINE_DIR / f"{stamp}-{folder.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(folder, target)
            fsync_dir(target.parent)
            done.append(Recovery(folder, "quarantined", target))
    with contextlib.suppress(FileNotFoundError):
        fsync_dir(staging)
    return done
