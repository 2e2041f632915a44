"""Embedded mode's periodic jobs: every web process ticks, each due job runs in exactly one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.schedule import periodic_job_definitions, tick_embedded
from tests.conftest import make_app


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "shared.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def test_two_processes_share_one_schedule(sqlite_url: str, tmp_path: Path) -> None:
    """Two apps over one data directory stand for two gunicorn workers: the first tick runs
    every job, the second finds them all claimed for their interval."""
    first = make_app(sqlite_url, tmp_path)
    second = make_app(sqlite_url, tmp_path)
    names = [definition.name for definition in periodic_job_definitions()]

    assert tick_embedded(first) == names
    assert tick_embedded(second) == []
    assert tick_embedded(first) == []


def test_a_failing_job_does_not_stop_the_others(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import schedule

    definitions = periodic_job_definitions()

    def broken() -> None:
        raise RuntimeError("boom")

    failing = schedule.PeriodicJob("broken", 60, broken)
    monkeypatch.setattr(schedule, "periodic_job_definitions", lambda: [failing, *definitions])
    app = make_app(sqlite_url, tmp_path)

    ran = tick_embedded(app)

    assert "broken" not in ran
    assert ran == [definition.name for definition in definitions]
