"""The runner's output written a whole line at a time (dev only).

The runner's threads (requests, workflow steps, the stream and queue pollers) all print to
one output: the functions' JSON log lines, their EMF metric lines (`print`, which writes
the text and its newline in two calls) and the runner's own log. Under load, one thread's
line could be cut by another's, which made a JSON log line unreadable to anyone (or any
test) reading the log. `whole_lines(stream, lock)` wraps a text stream so that each
thread's text reaches it only as whole lines, one thread's line at a time; stdout and
stderr share the lock when they go to the same file.
"""

from __future__ import annotations

import io
import threading
from typing import TextIO


class WholeLines(io.TextIOBase):
    def __init__(self, stream: TextIO, lock: threading.Lock) -> None:
        self._stream = stream
        self._lock = lock
        self._pending = threading.local()  # this thread's text after its last newline

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        cut = pending.rfind("\n") + 1
        self._pending.text = pending[cut:]
        if cut:
            with self._lock:
                self._stream.write(pending[:cut])
                self._stream.flush()
        return len(text)

    def flush(self) -> None:
        """Write this thread's unfinished line too (an explicit flush wants it out)."""
        pending = getattr(self._pending, "text", "")
        self._pending.text = ""
        with self._lock:
            if pending:
                self._stream.write(pending)
            self._stream.flush()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stream.encoding

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()


def whole_lines(*streams: TextIO) -> list[WholeLines]:
    """The streams wrapped, sharing one lock."""
    lock = threading.Lock()
    return [WholeLines(s, lock) for s in streams]
