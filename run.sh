#!/usr/bin/env bash
# One entry point that sets everything up on a fresh Debian machine with Python 3.11:
#   ./run.sh demo   - the whole stack in simulation on the local backend
#   ./run.sh test   - the test suite (what CI runs)
#   ./run.sh bench  - every benchmark in bench/
# The first run creates .venv and installs the package with its extras; later runs reuse it
# and reinstall only when setup.py or package.xml changed.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
VENV=.venv
EXTRAS="${EXTRAS:-sim,train,server,dev}"
STAMP="$VENV/.installed-${EXTRAS//,/-}"
export MUJOCO_GL="${MUJOCO_GL:-egl}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

system_packages() {
  # Debian splits venv/pip out of python3 and ships EGL/Mesa (MuJoCo's offscreen renderer)
  # separately; install what is missing.
  local need=()
  "$PYTHON" -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv python3-pip)
  ldconfig -p 2>/dev/null | grep -q libEGL.so.1 || need+=(libegl1 libgl1 libgl1-mesa-dri)
  ldconfig -p 2>/dev/null | grep -q libOSMesa || need+=(libosmesa6)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing system packages: ${need[*]}"
    as_root apt-get update -qq && as_root apt-get install -y -qq "${need[@]}" \
      || echo "warning: could not install ${need[*]} (not root?); continuing" >&2
  fi
}

setup() {
  if [ -f "$STAMP" ] && [ "$STAMP" -nt setup.py ] && [ "$STAMP" -nt package.xml ]; then
    return 0
  fi
  system_packages
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch is pinned to the CPU build in setup.py's `train` extra (torch==2.13.0).
  "$VENV/bin/python" -m pip install -q -e ".[$EXTRAS]"
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  demo)  setup; exec "$VENV/bin/vla-ros" demo "$@" ;;
  test)  setup
         set +e; "$VENV/bin/python" -m pytest -q test "$@"; rc=$?; set -e
         # pytest exits 5 when nothing was collected: that is a failure, not a pass.
         [ $rc -eq 5 ] && { echo "no tests were collected" >&2; exit 1; }
         exit $rc ;;
  bench) setup; for b in bench/*.py; do "$VENV/bin/python" "$b" || exit 1; done ;;
  lint)  setup; exec "$VENV/bin/ruff" check vla_ros test bench scripts ;;
  setup) setup ;;
  *) echo "usage: ./run.sh demo|test|bench|lint|setup [args]" >&2; exit 2 ;;
esac
