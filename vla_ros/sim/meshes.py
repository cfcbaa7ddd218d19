"""Lighter robot meshes: read binary STL and decimate by vertex clustering.

Some robot descriptions ship CAD-resolution collision meshes (the SO-101's add up to
320k triangles). Offscreen rendering runs on the CPU here (Mesa), where that many
triangles cost ~0.3 s per frame; MuJoCo collides with each mesh's convex hull anyway, so
a few thousand triangles per mesh lose nothing physics needs. Vertex clustering (snap
vertices to a grid, merge each cell, drop collapsed triangles) keeps the silhouette to
within half a cell, which is all a 128x128 camera can see.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class MeshError(ValueError):
    """A mesh file that cannot be read; the message names the file."""


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (3m, 3) float and triangles (m, 3) int of a binary STL.

    Corners are not merged here: `decimate` merges them by clustering anyway.
    """
    data = Path(path).read_bytes()
    if len(data) < 84:
        raise MeshError(f"{path}: too short for a binary STL ({len(data)} bytes)")
    n = int(np.frombuffer(data, np.uint32, 1, 80)[0])
    if len(data) != 84 + 50 * n:
        raise MeshError(f"{path}: not a binary STL (header says {n} triangles, "
                        f"file has {len(data)} bytes)")  # fmt: skip
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    verts = np.frombuffer(data, record, n, 84)["v"].reshape(-1, 3).astype(np.float64)
    return verts, np.arange(3 * n).reshape(-1, 3)


def decimate(verts: np.ndarray, faces: np.ndarray, max_faces: int
             ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """At most `max_faces` triangles by clustering vertices on a grid (coarsened until
    the face count fits); meshes already small enough come back unchanged."""
    if len(faces) <= max_faces:
        return verts, faces
    lo = verts.min(0)
    extent = float(np.max(verts.max(0) - lo))
    cell = extent / 200.0
    while True:
        k = np.floor((verts - lo) / cell).astype(np.int64)  # < 2**20 per axis
        _, cluster, counts = np.unique((k[:, 0] << 40) | (k[:, 1] << 20) | k[:, 2],
                                       return_inverse=True, return_counts=True)
        cluster = cluster.reshape(-1)
        new_verts = np.zeros((len(counts), 3))
        np.add.at(new_verts, cluster, verts)
        new_verts /= counts[:, None]
        f = cluster[faces]
        f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
        s = np.sort(f, axis=1)
        _, first = np.unique((s[:, 0] << 42) | (s[:, 1] << 21) | s[:, 2], return_index=True)
        f = f[np.sort(first)]
        if len(f) <= max_faces or cell > extent:
            used, f = np.unique(f, return_inverse=True)
            return new_verts[used], f.reshape(-1, 3)
        cell *= 1.4
