"""local/fifo_lock.py: waiters get the lock in the order they asked for it, the owner may
take it again, and only the owner may release it."""

from __future__ import annotations

import threading
import time

import pytest

from local.fifo_lock import FifoRLock


def test_waiters_are_served_in_arrival_order() -> None:
    lock = FifoRLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for i in range(6):
        thread = threading.Thread(
            target=lambda i=i: (lock.acquire(), order.append(i), lock.release())
        )
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while len(lock._waiters) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)  # each waiter queued before the next one comes
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == list(range(6))


def test_reentrant_and_owned() -> None:
    lock = FifoRLock()
    with lock, lock:
        pass
    with lock:
        errors: list[BaseException] = []

        def release_elsewhere() -> None:
            try:
                lock.release()
            except RuntimeError as exc:
                errors.append(exc)

        thread = threading.Thread(target=release_elsewhere)
        thread.start()
        thread.join(5)
        assert errors
    with pytest.raises(RuntimeError):
        lock.release()
