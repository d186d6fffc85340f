"""Search tests write many posts quickly: posting limits are not what they test."""

from dataclasses import replace

import pytest


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=False)
