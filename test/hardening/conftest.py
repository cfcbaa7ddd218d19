"""Hypothesis profiles: `ci` (bounded, the default) and `long` (scripts/fuzz.sh).

HYPOTHESIS_PROFILE=long pytest test/hardening  runs 20x more examples per property.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
