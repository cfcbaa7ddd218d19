"""Shared test setup: MuJoCo renders offscreen with EGL, as `run.sh` sets it, so any subset
of the suite (`pytest test/policy test/sim`) runs as the whole does, whichever test module
imports mujoco first (it picks its GL backend at import and aborts rendering without one)."""

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(scope="module")
def panda_env():
    """A Panda `SimEnv` shared by one test module's tests (each resets it)."""
    from vla_ros.sim.env import SimEnv

    env = SimEnv("panda")
    yield env
    env.close()
