"""A re-entrant lock and a semaphore handed to their waiters in the order they came (dev
emulation only).

The emulated stack runs one invocation at a time per handler module (local/stack.py), as
one Lambda container does, so under load the requests of a busy function queue on its
lock. threading.RLock is not fair: on release, whichever thread next holds the GIL takes
it, so a request can wait behind many later ones (under `make bench`'s load some waited
over half a second while the median was a tenth of that). API Gateway queues nothing
that way. This lock keeps its waiters in a queue and hands itself to the first one on
release, so a request waits for at most the ones ahead of it. The runner lets requests
into the stack a few at a time (local/runner.py) through a FifoSemaphore, for the same
reason.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class _Held:
    """`with lock:` for the classes below: acquire() on entry, release() on exit."""

    def acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class FifoRLock(_Held):
    def __init__(self) -> None:
        self._state = threading.Lock()  # guards the fields below
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[tuple[int, threading.Lock]] = deque()

    def acquire(self) -> bool:
        me = threading.get_ident()
        with self._state:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append((me, gate))
        gate.acquire()  # released by the owner that hands the lock over to this thread
        return True

    def release(self) -> None:
        with self._state:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a lock this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            if self._waiters:
                self._owner, gate = self._waiters.popleft()
                self._depth = 1
                gate.release()
            else:
                self._owner = None


class FifoSemaphore(_Held):
    """At most `slots` holders at once; a freed slot goes to the longest waiter."""

    def __init__(self, slots: int) -> None:
        self._state = threading.Lock()
        self._free = slots
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self) -> bool:
        with self._state:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        gate.acquire()  # released by a holder that hands its slot over
        return True

    def release(self) -> None:
        with self._state:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1
