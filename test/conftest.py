"""Shared test setup: MuJoCo renders offscreen with EGL, as `run.sh` sets it, so any subset
of the suite (`pytest test/policy test/sim`) runs as the whole does, whichever test module
imports mujoco first (it picks its GL backend at import and aborts rendering without one)."""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
