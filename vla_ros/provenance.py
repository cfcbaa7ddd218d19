"""Which software produced a result: written into eval.json and train_info.json.

Closed-loop success depends on the simulator's version, not only on the weights: the
shipped checkpoint, on the same 240 unseen layouts, solves 106 under MuJoCo 3.x and 119
under 4.0.1 (its cylinder contacts changed; docs/simulation.md, "Simulator version"). So
every result records the versions it ran on, and `vla-ros doctor` warns when the installed
MuJoCo is not the one setup.py pins, the one docs/results.md was measured with.
"""

from __future__ import annotations

import platform
import re
from importlib import metadata

PACKAGE = "vla_ros"
TRACKED = ("mujoco", "torch", "numpy", "pin", "daqp")


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def software_versions() -> dict[str, str]:
    """Python, vla_ros and the libraries a rollout's numbers depend on (those installed)."""
    versions = {"python": platform.python_version(),
                PACKAGE: installed_version(PACKAGE) or "not installed"}
    for dist in TRACKED:
        version = installed_version(dist)
        if version is not None:
            versions[dist] = version
    return versions


def pinned_version(dist: str, package: str = PACKAGE) -> str | None:
    """The exact version `package` pins for `dist` (`dist==X` in its requirements), if any."""
    try:
        requirements = metadata.requires(package) or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.match(rf"^{re.escape(dist)}\s*==\s*([^\s;,]+)", requirement)
        if match:
            return match.group(1)
    return None
