"""Camera streams: encoding while recording, appending episodes to a file, decoding.

Each camera's frames are encoded on a background thread as they arrive (PyAV releases
the GIL while encoding, so cameras encode in parallel with the recorder). Streams are
constant frame rate: frame i of a file is presented at i/fps, because LeRobot's default
decoder (torchcodec) turns a timestamp into a frame position with `round(t * fps)`.
Episodes are appended to a camera's current file by remuxing packets (no re-encoding).
B-frames are off so decode order equals presentation order, which keeps remuxed
episodes monotonic.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vla_ros.data.errors import CorruptDatasetError, EpisodeError
from vla_ros.data.stats import ImageStats

CODEC_INFO_NAMES = {"libx264": "h264", "h264": "h264", "libsvtav1": "av1", "libaom-av1": "av1"}


def ticks_per_second(fps: int) -> int:
    """Clock of presentation timestamps: a multiple of fps, so frame i/fps is a whole tick."""
    fps = int(fps)
    return fps * max(1000, -(-10000 // fps))


@dataclass(frozen=True)
class VideoSettings:
    """Encoder settings; defaults keep up with 3 cameras at 30 fps, 224 px, on 2 cores.

    gop=2 follows LeRobot: a key frame every other frame makes random access cheap for
    training at the price of larger files.
    """

    codec: str = "libx264"
    crf: int = 23
    gop: int = 2
    preset: str = "veryfast"
    pix_fmt: str = "yuv420p"
    threads: int = 1
    queue_frames: int = 64

    def options(self) -> dict[str, str]:
        if self.codec in ("libx264", "h264"):
            return {"crf": str(self.crf), "g": str(self.gop), "bf": "0",
                    "preset": self.preset, "threads": str(self.threads)}
        if self.codec == "libsvtav1":
            preset = self.preset if self.preset.isdigit() else "10"
            return {"crf": str(self.crf), "g": str(self.gop), "preset": preset,
                    "svtav1-params": f"lp={self.threads}"}
        return {"g": str(self.gop)}

    def info(self, fps: int) -> dict[str, object]:
        """The `info` block of a video feature in info.json (height/width added per camera)."""
        return {
            "video.fps": int(fps),
            "video.codec": CODEC_INFO_NAMES.get(self.codec, self.codec),
            "video.pix_fmt": self.pix_fmt,
            "video.is_depth_map": False,
            "video.channels": 3,
            "has_audio": False,
        }

    def check_available(self) -> None:
        if self.codec not in av.codecs_available:
            raise ValueError(f"video codec {self.codec!r} is not available in this PyAV build; "
                             "use 'libx264' or 'libsvtav1'")


class CameraEncoder:
    """Encodes one camera's frames of one episode into an mp4 file on a worker thread."""

    def __init__(self, path: Path, fps: int, height: int, width: int, settings: VideoSettings):
        self.path = path
        self.frames = 0
        self.stats = ImageStats(height, width)
        self._error: BaseException | None = None
        self._container = av.open(str(path), "w", options={"movflags": "faststart"})
        stream = self._container.add_stream(settings.codec, rate=fps,
                                            options=settings.options())
        stream.width, stream.height, stream.pix_fmt = width, height, settings.pix_fmt
        self._time_base = Fraction(1, ticks_per_second(fps))
        stream.codec_context.time_base = self._time_base
        stream.time_base = self._time_base
        self._stream = stream
        self._queue: queue.Queue[tuple[np.ndarray, int] | None] = queue.Queue(
            maxsize=settings.queue_frames)
        self._thread = threading.Thread(target=self._run, name=f"encode-{path.stem}", daemon=True)
        self._thread.start()

    def put(self, rgb: np.ndarray, pts: int) -> None:
        """Queue a frame (the caller must not modify `rgb` afterwards). Blocks when behind."""
        if self._error is not None:
            raise EpisodeError(f"video encoder for {self.path.name} failed: {self._error}")
        self._queue.put((rgb, pts))

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                rgb, pts = item
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = pts
                frame.time_base = self._time_base
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
                self.stats.update(rgb)
                self.frames += 1
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        except BaseException as exc:  # surfaced to the recorder thread by put/finish
            self._error = exc
            while self._queue.get() is not None:  # unblock a producer waiting on a full queue
                pass
            with contextlib.suppress(Exception):  # best effort after the real error
                self._container.close()

    def finish(self) -> int:
        """Flush and close the file; returns the number of frames encoded."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise EpisodeError(f"video encoder for {self.path.name} failed: {self._error}")
        return self.frames

    def stop(self) -> None:
        """Stop the worker thread (the file is left as it is)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def abort(self) -> None:
        """Stop encoding and delete the partial file."""
        self.stop()
        self.path.unlink(missing_ok=True)


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """A viewing video (demo, evaluation rollouts) of equal-size RGB frames, one per 1/fps."""
    h, w = frames[0].shape[:2]
    encoder = CameraEncoder(Path(path), fps, h, w, VideoSettings(gop=fps))
    step = ticks_per_second(fps) // fps
    for i, frame in enumerate(frames):
        encoder.put(np.ascontiguousarray(frame), i * step)
    encoder.finish()
    return Path(path)


@dataclass(frozen=True)
class StreamInfo:
    width: int
    height: int
    codec: str
    pix_fmt: str
    time_base: Fraction
    extradata: bytes


def probe(path: Path) -> StreamInfo:
    """Stream parameters of an mp4, or CorruptDatasetError naming the file."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CorruptDatasetError(path, "no video stream in file")
            s = container.streams.video[0]
            return StreamInfo(s.codec_context.width, s.codec_context.height,
                              s.codec_context.name, s.codec_context.pix_fmt or "",
                              Fraction(s.time_base), bytes(s.codec_context.extradata or b""))
    except (av.error.FFmpegError, OSError) as exc:
        if isinstance(exc, FileNotFoundError) or not path.exists():
            raise CorruptDatasetError(path, "video file is missing") from exc
        raise CorruptDatasetError(path, f"cannot open video: {exc}") from exc


def can_append(existing: StreamInfo, episode: StreamInfo) -> bool:
    """Remuxing is only valid when both streams decode with the same parameters."""
    return (existing.width, existing.height, existing.codec, existing.pix_fmt,
            existing.time_base, existing.extradata) == (
        episode.width, episode.height, episode.codec, episode.pix_fmt,
        episode.time_base, episode.extradata)


def concat(existing: Path, episode: Path, out: Path, offset_ticks: int,
           tick: Fraction) -> None:
    """Write `existing` followed by `episode` (shifted by `offset_ticks` of `tick`) to `out`."""
    with av.open(str(out), "w", options={"movflags": "faststart"}) as dst:
        ost = None
        for path, shift in ((existing, 0), (episode, offset_ticks)):
            with av.open(str(path)) as src:
                ist = src.streams.video[0]
                if ost is None:
                    ost = dst.add_stream_from_template(ist, opaque=True)
                    ost.time_base = ist.time_base
                scale = tick / Fraction(ist.time_base)
                if scale.denominator != 1:
                    raise EpisodeError(f"{path}: stream time base {ist.time_base} is not a "
                                       f"divisor of {tick}")
                delta = shift * int(scale)
                for packet in src.demux(ist):
                    if packet.dts is None:
                        continue
                    packet.pts += delta
                    packet.dts += delta
                    packet.stream = ost
                    dst.mux(packet)


def frame_pts(path: Path, start: float, end: float) -> list[float]:
    """Presentation times (s) of the frames in [start, end) without decoding pixels."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            out = []
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                t = packet.pts * tb
                if start - 0.5e-4 <= t < end - 0.5e-4:
                    out.append(t)
            return sorted(out)
    except (av.error.FFmpegError, OSError) as exc:
        if not path.exists():
            raise CorruptDatasetError(path, "video file is missing") from exc
        raise CorruptDatasetError(path, f"cannot read video: {exc}") from exc


def decode_at(path: Path, t: float, tolerance: float = 1e-4) -> np.ndarray:
    """The RGB frame (H, W, 3) presented at `t` seconds (within `tolerance`)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = float(stream.time_base)
            container.seek(int(round(t / tb)), stream=stream, backward=True)
            for frame in container.decode(stream):
                ft = frame.pts * tb
                if ft >= t - tolerance:
                    if abs(ft - t) > tolerance:
                        break
                    return frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, OSError) as exc:
        if not path.exists():
            raise CorruptDatasetError(path, "video file is missing") from exc
        raise CorruptDatasetError(path, f"cannot decode video: {exc}") from exc
    raise CorruptDatasetError(path, f"no frame within {tolerance} s of t={t:.6f} s")


def decode_range(path: Path, start: float, end: float, expected: int | None = None,
                 ) -> np.ndarray:
    """RGB frames (T, H, W, 3) uint8 whose timestamps lie in [start, end)."""
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = float(stream.time_base)
            container.seek(int(round(start / tb)), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = frame.pts * tb
                if t < start - 0.5e-4:
                    continue
                if t >= end - 0.5e-4:
                    break
                frames.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, OSError) as exc:
        if not path.exists():
            raise CorruptDatasetError(path, "video file is missing") from exc
        raise CorruptDatasetError(path, f"cannot decode video: {exc}") from exc
    if expected is not None and len(frames) != expected:
        raise CorruptDatasetError(path, f"expected {expected} frames in [{start:.4f}, "
                                        f"{end:.4f}) s, decoded {len(frames)}")
    if not frames:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack(frames)
