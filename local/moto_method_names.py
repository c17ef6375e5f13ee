"""moto's list of a response class's action methods, made once per class (dev emulation
only).

Before every call moto checks the action against `method_names_from_class`, which lists
the handler class's functions with `inspect.getmembers` each time: a walk of a few
hundred attributes per AWS call. A class's functions do not change while the emulation
runs, so the list is made once per class and reused.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from unittest import mock


@contextlib.contextmanager
def method_names_once() -> Iterator[None]:
    """Patch the name moto's BaseResponse.call_action looks up, for the duration."""
    from moto.core import responses

    once = functools.cache(responses.method_names_from_class)
    with mock.patch.object(responses, "method_names_from_class", once):
        yield
