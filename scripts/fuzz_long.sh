#!/usr/bin/env bash
# The long fuzzing profile: 20x the CI examples per property (test/hardening/conftest.py).
#   scripts/fuzz_long.sh            # conversions and node callbacks
#   scripts/fuzz_long.sh -k retarget
set -euo pipefail
cd "$(dirname "$0")/.."
HYPOTHESIS_PROFILE=long exec .venv/bin/python -m pytest -q -p no:cacheprovider \
    test/hardening/test_fuzz_convert.py test/hardening/test_fuzz_nodes.py "$@"
