"""Results record the software they ran on; the simulator pin is read from the package."""

from __future__ import annotations

from importlib import metadata

import mujoco
import numpy as np

from vla_ros import provenance


def test_versions_name_the_installed_simulator_and_numpy():
    versions = provenance.software_versions()
    assert versions["mujoco"] == mujoco.__version__
    assert versions["numpy"] == np.__version__
    assert versions["vla_ros"] != "not installed"


def test_the_pin_is_read_from_the_requirements(monkeypatch):
    monkeypatch.setattr(metadata, "requires", lambda package: [
        "numpy>=1.24", 'mujoco==4.0.1; extra == "sim"', 'torch==2.13.0; extra == "train"',
        "mujoco-extra==9"])
    assert provenance.pinned_version("mujoco") == "4.0.1"
    assert provenance.pinned_version("torch") == "2.13.0"
    assert provenance.pinned_version("numpy") is None  # a lower bound is not a pin


def test_the_installed_package_pins_the_simulator_it_has():
    assert provenance.pinned_version("mujoco") == mujoco.__version__
    assert provenance.pinned_version("mujoco", package="no-such-package") is None
