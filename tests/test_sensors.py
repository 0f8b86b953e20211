"""The inbox sensor: new complete files start their source's ingestion, once.

The sensor reads the pinned `clock`, and every landed file's mtime is set relative to it, so
whether a file is still fresh never depends on how long the test took between ticks.
"""

from __future__ import annotations

import os
from datetime import UTC

import dagster as dg
import pytest

from pipelines.defs.sensors import SETTLE_SECONDS, inbox_sensor, strategy_sensor


@pytest.fixture
def land(home, clock):
    """Write a file into `inbox/<source>/` with an mtime `age_seconds` before the sensor's now."""
    now = clock.replace(tzinfo=UTC).timestamp()

    def land(source, name, text="a,b\n1,2\n", age_seconds=60.0):
        folder = home / "inbox" / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(text)
        os.utime(path, (now - age_seconds, now - age_seconds))
        return path

    return land


def _tick(cursor=None):
    ctx = dg.build_sensor_context(cursor=cursor)
    result = inbox_sensor(ctx)
    return result, result.cursor


def _sources(result):
    assert len(result.run_requests) <= 1  # one run per tick, whatever the number of sources
    return sorted(s for r in result.run_requests for s in r.tags["outcomeloop/sources"].split(","))


def test_new_file_yields_one_request_for_its_source_then_none(land):
    land("nps", "a.csv")
    first, cursor = _tick()
    assert _sources(first) == ["nps"]
    selection = first.run_requests[0].asset_selection
    assert selection[0] == dg.AssetKey("nps_events")
    # the marts and the snapshot follow in the same run
    assert {dg.AssetKey("measure_values"), dg.AssetKey("serving")} <= set(selection)
    assert not {dg.AssetKey("ces_events"), dg.AssetKey("revenue_events")} & set(selection)
    second, _ = _tick(cursor)
    assert second.run_requests == []


def test_old_mtime_but_new_name_is_still_picked_up(land):
    land("nps", "a.csv", age_seconds=60)
    _, cursor = _tick()
    land("nps", "copied-with-old-mtime.csv", text="x\n", age_seconds=3600)
    result, _ = _tick(cursor)
    assert _sources(result) == ["nps"]


def test_only_sources_with_new_files_are_requested_in_one_run(land):
    land("nps", "a.csv")
    _, cursor = _tick()
    land("revenue", "r.csv")
    land("ces", "c.jsonl", text="{}\n")
    result, _ = _tick(cursor)
    assert _sources(result) == ["ces", "revenue"]


@pytest.fixture
def pauses(monkeypatch):
    """The second looks of the inbox sensor: each pause runs the test's `during` (what happens
    to the inbox meanwhile) instead of sleeping, and is recorded."""
    from pipelines.defs import sensors

    seen: list[float] = []
    during: list = []

    def pause(seconds):
        seen.append(seconds)
        if during:
            during.pop(0)()

    monkeypatch.setattr(sensors, "pause", pause)
    return seen, during


def test_a_fresh_complete_file_is_picked_up_after_a_second_look_in_the_same_tick(land, pauses):
    seen, _ = pauses
    land("nps", "a.csv", age_seconds=SETTLE_SECONDS / 4)
    result, cursor = _tick()
    assert _sources(result) == ["nps"]
    assert seen == [SETTLE_SECONDS]
    again, _ = _tick(cursor)
    assert again.run_requests == [] and seen == [SETTLE_SECONDS]  # no second look without news


def test_a_file_still_being_written_waits_for_a_stable_size(land, pauses):
    seen, during = pauses
    land("ces", "big.jsonl", text="{}\n", age_seconds=SETTLE_SECONDS / 2)
    during.append(lambda: land("ces", "big.jsonl", text="{}\n{}\n", age_seconds=0))
    first, cursor = _tick()
    assert first.run_requests == []  # fresh mtime, and it grew during the second look
    land("ces", "big.jsonl", text="{}\n{}\n{}\n", age_seconds=0)  # and again before the next
    second, _ = _tick(cursor)
    assert _sources(second) == ["ces"]  # same size at the second look: complete
    assert seen == [SETTLE_SECONDS, SETTLE_SECONDS]


def test_part_and_hidden_files_are_ignored(land):
    land("nps", "upload.csv.part")
    land("nps", ".~lock.a.csv#")
    result, _ = _tick()
    assert result.run_requests == []


def test_strategy_sensor_requests_once_per_content(home):
    (home / "strategy.yaml").write_text("name: one\n")
    ctx = dg.build_sensor_context()
    first = strategy_sensor(ctx)
    assert [r.asset_selection for r in first.run_requests] == [[dg.AssetKey("strategy")]]
    again = strategy_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert again.run_requests == []
    (home / "strategy.yaml").write_text("name: two\n")
    changed = strategy_sensor(dg.build_sensor_context(cursor=first.cursor))
    assert len(changed.run_requests) == 1
