"""Per-stage timing of a frame's analysis (proctoring/stages.py), which make bench-scale reads from the
worker's log. No timing is asserted: only that stages are counted inside collect() and nowhere else."""

from __future__ import annotations

import re

from proctoring import stages


def test_it_counts_stages_inside_collect_only_and_prints_the_rest_as_other() -> None:
    assert stages.timed("engine", lambda x: x + 1, 1) == 2  # outside collect(): just the call
    with stages.collect() as spent:
        assert stages.timed("engine", sum, [1, 2]) == 3
        stages.timed("engine", sum, [3])
        stages.timed("read", bytes, 3)
    assert set(spent) == {"engine", "read", "total"}
    assert all(cpu >= 0 and wall >= 0 for cpu, wall in spent.values())
    line = stages.line(spent)
    assert re.fullmatch(r"engine=[\d.]+/[\d.]+ read=[\d.]+/[\d.]+ other=[\d.]+/[\d.]+ total=[\d.]+/[\d.]+", line)
    with stages.collect() as again:
        pass
    assert set(again) == {"total"}  # nothing left over from the first collection
