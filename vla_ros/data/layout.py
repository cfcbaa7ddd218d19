"""Where files live in a LeRobotDataset v3 folder (the same templates LeRobot 0.4.x uses).

```
meta/info.json            schema, fps, totals, path templates
meta/stats.json           normalisation statistics over all episodes
meta/tasks.parquet        task string -> task_index
meta/episodes/chunk-CCC/file-FFF.parquet   one row per episode
data/chunk-CCC/file-FFF.parquet            one row per frame, several episodes per file
videos/<video_key>/chunk-CCC/file-FFF.mp4  one stream per camera, episodes back to back
.vla_ros/                 our lock, staging area and quarantine (ignored by LeRobot)
```
"""

from __future__ import annotations

from dataclasses import dataclass

CODEBASE_VERSION = "v3.0"

INFO_PATH = "meta/info.json"
STATS_PATH = "meta/stats.json"
TASKS_PATH = "meta/tasks.parquet"
EPISODES_DIR = "meta/episodes"
DATA_DIR = "data"
VIDEOS_DIR = "videos"

CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
EPISODES_PATH = EPISODES_DIR + "/" + CHUNK_FILE + ".parquet"
DATA_PATH = DATA_DIR + "/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = VIDEOS_DIR + "/{video_key}/" + CHUNK_FILE + ".mp4"

DEFAULT_CHUNKS_SIZE = 1000  # files per chunk folder
DEFAULT_DATA_FILE_SIZE_MB = 100
DEFAULT_VIDEO_FILE_SIZE_MB = 200
# A metadata file is rewritten on every commit; capping its rows bounds that cost.
MAX_EPISODES_PER_META_FILE = 1000

WORK_DIR = ".vla_ros"  # our bookkeeping inside the dataset root
LOCK_PATH = WORK_DIR + "/lock"
STAGING_DIR = WORK_DIR + "/staging"
QUARANTINE_DIR = WORK_DIR + "/quarantine"


@dataclass(frozen=True, order=True)
class FileRef:
    """A (chunk, file) pair: the address of one data, video or episodes-metadata file."""

    chunk: int = 0
    file: int = 0

    def next(self, chunks_size: int) -> FileRef:
        """The file after this one; a chunk folder holds at most `chunks_size` files."""
        if self.file + 1 >= chunks_size:
            return FileRef(self.chunk + 1, 0)
        return FileRef(self.chunk, self.file + 1)

    def data_path(self) -> str:
        return DATA_PATH.format(chunk_index=self.chunk, file_index=self.file)

    def episodes_path(self) -> str:
        return EPISODES_PATH.format(chunk_index=self.chunk, file_index=self.file)

    def video_path(self, video_key: str) -> str:
        return VIDEO_PATH.format(video_key=video_key, chunk_index=self.chunk, file_index=self.file)
