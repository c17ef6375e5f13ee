"""local/fifo_lock.py: waiters get the lock in the order they asked for it, the owner may
take it again, and only the owner may release it."""

from __future__ import annotations

import threading
import time

import pytest

from local.fifo_lock import FifoRLock, FifoSemaphore


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


def test_semaphore_slots_go_to_waiters_in_arrival_order() -> None:
    gate = FifoSemaphore(2)
    gate.acquire()
    gate.acquire()
    order: list[int] = []
    threads = []
    for i in range(5):
        thread = threading.Thread(target=lambda i=i: (gate.acquire(), order.append(i)))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while len(gate._waiters) < i + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    for n in range(5):
        gate.release()  # one slot freed: the longest waiter takes it
        deadline = time.monotonic() + 5
        while len(order) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert order == list(range(5))
    assert gate._free == 0  # the two first holders still hold theirs
