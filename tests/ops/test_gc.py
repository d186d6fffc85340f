"""Serving processes keep the cyclic garbage collector off what they hold for good."""

import gc
import subprocess
import sys

from connect import gc_tuning


def test_a_serving_process_freezes_its_start_up_objects_and_collects_less_often():
    probe = (
        "import gc; from connect import serving; "
        "serving._prepare_server_process({'log_level': 'warning'}); "
        "print(gc.get_freeze_count(), *gc.get_threshold())"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    frozen, *thresholds = map(int, answer.stdout.split())
    assert frozen > 50_000  # the application's modules, ORM mappings and the like
    assert tuple(thresholds) == gc_tuning.GC_THRESHOLDS


def test_apps_built_outside_a_serving_process_freeze_nothing(site):
    # Tests and tools build many apps in one process: a freeze there would keep every
    # earlier app's cycles alive.
    assert site.anonymous().get("/").status_code in (200, 303)
    assert gc.get_freeze_count() == 0
    gc_tuning.freeze_after_startup()
    assert gc.get_freeze_count() == 0
