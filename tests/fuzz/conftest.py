"""Hypothesis settings for the fuzz tests: derandomized (the same examples every run), no
example database, a bounded number of examples per test and a deadline per example, so a
hang fails instead of stalling the suite. HELMWARD_FUZZ_EXAMPLES raises the budget."""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("HELMWARD_FUZZ_EXAMPLES", "60"))

settings.register_profile(
    "helmward-fuzz",
    derandomize=True,
    database=None,
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("helmward-fuzz")
