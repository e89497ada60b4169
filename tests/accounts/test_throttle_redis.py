"""The sliding-window counters (accounts.throttle.window_hit) on a real Redis: one pipelined round trip per
hit, the same answers as through the cache's add/incr/get, and values the cache itself reads."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from django.core.cache import cache

from accounts import throttle
from tests.celery_worker import WORKER_REDIS_URL


@pytest.fixture
def redis_cache(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": WORKER_REDIS_URL}}
    throttle.reset_cache_breaker()


@pytest.mark.usefixtures("redis_cache")
def test_it_counts_a_window_on_redis_in_one_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"test-{uuid.uuid4().hex}"
    for name in ("add", "incr", "get", "set"):  # the four-command path is not taken
        monkeypatch.setattr(cache, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError("not pipelined")))
    answers = [throttle.window_hit(key, limit=5, window=60, cost=2) for _ in range(3)]
    monkeypatch.undo()
    assert answers[:2] == [None, None] and answers[2] is not None and 1 <= answers[2] <= 60
    index = int(time.time() // 60)
    assert cache.get(f"rl:{key}:{index}") == 6  # the cache reads the counter as its own integer
    assert throttle.window_total(key, window=60) >= 6
    assert cache.incr(f"rl:{key}:{index}", 1) == 7
