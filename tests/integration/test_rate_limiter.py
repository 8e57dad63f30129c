"""The sliding-window limiter on DynamoDB counters, with a controlled clock."""

from __future__ import annotations

import threading

import pytest

from chalicelib.ratelimit import RateLimiter


class Clock:
    def __init__(self, at: float):
        self.at = at

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)  # the start of a window: 1.8e9 is a multiple of 60


def hits(limiter: RateLimiter, n: int, limit: int = 20, bucket: str = "ip:1.2.3.4:autocomplete") -> list[bool]:
    return [limiter.hit(bucket, {"autocomplete": limit})["autocomplete"].allowed for _ in range(n)]


def test_the_21st_request_in_a_minute_is_refused_and_the_window_slides(hub, clock):
    limiter = RateLimiter(hub.db, clock=clock)
    assert hits(limiter, 21) == [True] * 20 + [False]
    clock.at += 90  # halfway into the next window the previous 20 weigh 10: ten more fit
    assert hits(limiter, 11) == [True] * 10 + [False]
    clock.at += 30  # at the start of the one after, the first burst is gone and the 10 weigh in full
    assert sum(hits(limiter, 20)) == 10
    clock.at += 120  # idle for two windows: a full budget again
    assert hits(limiter, 21) == [True] * 20 + [False]


def test_a_decision_reports_what_is_left_and_when(hub, clock):
    limiter = RateLimiter(hub.db, clock=clock)
    clock.at += 15
    first = limiter.hit("b", {"x": 3})["x"]
    assert (first.allowed, first.remaining, first.reset_seconds) == (True, 2, 45)
    assert first.headers() == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "45"}
    for bucket in ("b", "twin"):  # "twin" gets the same history, to probe one second early
        for _ in range(3 if bucket == "twin" else 2):
            limiter.hit(bucket, {"x": 3})
    refused = limiter.hit("b", {"x": 3})["x"]
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert refused.headers()["Retry-After"] == str(refused.retry_after)
    # Nothing fits before this window ends; in the next one the 3 of this one weigh less as it slides.
    assert refused.retry_after > refused.reset_seconds
    clock.at += refused.retry_after - 1
    assert not limiter.hit("twin", {"x": 3})["x"].allowed
    clock.at += 1
    assert limiter.hit("b", {"x": 3})["x"].allowed


def test_refused_requests_do_not_keep_the_window_shut(hub, clock):
    limiter = RateLimiter(hub.db, clock=clock)
    assert hits(limiter, 25, limit=5) == [True] * 5 + [False] * 20
    item = hub.db.get({"pk": "RL#ip:1.2.3.4:autocomplete", "sk": "RL"})
    assert item[f"autocomplete_w{int(clock.at // 60)}"] == 5


def test_limits_of_one_bucket_are_counted_in_one_write_and_refuse_together(hub, clock):
    limiter = RateLimiter(hub.db, clock=clock)
    for _ in range(2):
        decisions = limiter.hit("key:k", {"requests": 10, "commit": 2})
        assert all(d.allowed for d in decisions.values())
    decisions = limiter.hit("key:k", {"requests": 10, "commit": 2})
    assert (decisions["requests"].allowed, decisions["commit"].allowed) == (True, False)
    # The refused request gave both increments back.
    item = hub.db.get({"pk": "RL#key:k", "sk": "RL"})
    window = int(clock.at // 60)
    assert (item[f"requests_w{window}"], item[f"commit_w{window}"]) == (2, 2)
    assert item["ttl"] == int(clock.at) + 180


def test_concurrent_hits_never_let_more_than_the_limit_through(hub, clock):
    limiter = RateLimiter(hub.db, clock=clock)
    allowed: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            ok = limiter.hit("hot", {"x": 30})["x"].allowed
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(allowed), sum(allowed)) == (60, 30)


def test_switched_off_it_decides_nothing_and_writes_nothing(hub, clock):
    limiter = RateLimiter(hub.db, enabled=False, clock=clock)
    assert limiter.hit("b", {"x": 1}) is None
    assert hub.db.get({"pk": "RL#b", "sk": "RL"}) is None
