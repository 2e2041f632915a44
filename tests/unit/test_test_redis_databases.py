"""The tests' own Redis databases under pytest-xdist: one per worker, never shared."""

from __future__ import annotations

import pytest

from tests.conftest import worker_redis_url


def test_each_worker_gets_its_own_database_counting_down_and_wrapping() -> None:
    urls = [worker_redis_url("redis://127.0.0.1:6379/15", f"gw{k}", 16) for k in range(16)]
    assert urls[:3] == [f"redis://127.0.0.1:6379/{n}" for n in (15, 14, 13)]
    assert len(set(urls)) == 16
    wrapped = worker_redis_url("redis://127.0.0.1:6379/2", "gw3", 4)
    assert wrapped == "redis://127.0.0.1:6379/15"


def test_more_workers_than_databases_is_refused() -> None:
    with pytest.raises(pytest.fail.Exception, match="17 xdist workers need 17 Redis databases"):
        worker_redis_url("redis://127.0.0.1:6379/15", "gw0", 17)
