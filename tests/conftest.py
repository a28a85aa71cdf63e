import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# helpers shared by the test areas (tests/chips.py) import as top-level modules
sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
