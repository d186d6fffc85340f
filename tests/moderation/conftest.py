"""Moderation tests post quickly: posting limits are off unless a test turns them on."""

from dataclasses import replace

import pytest


@pytest.fixture
def settings(settings):
    return replace(settings, rate_limits=False)
