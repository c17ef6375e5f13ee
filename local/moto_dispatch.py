"""moto's bookkeeping around every call, made cheaper (dev emulation only).

- Before every call moto checks the action against `method_names_from_class`, which
  lists the handler class's functions with `inspect.getmembers` each time: a walk of a
  few hundred attributes. A class's functions do not change while the emulation runs, so
  the list is made once per class.
- Every response gets a request id of 52 letters and digits, drawn one `choice` at a
  time from moto's seedable random source. The same alphabet, length and source draw it
  in one `choices` call.
"""

from __future__ import annotations

import contextlib
import functools
import string
from collections.abc import Iterator
from typing import Any
from unittest import mock

REQUEST_ID_ALPHABET = string.ascii_letters + string.digits  # moto's get_random_string
REQUEST_ID_LENGTH = 52


def request_id(headerdict: dict[str, Any] | None = None) -> str:
    """moto.utilities.aws_headers.gen_amzn_requestid_long, in one draw."""
    from moto.moto_api._internal import mock_random

    req_id = "".join(mock_random.choices(REQUEST_ID_ALPHABET, k=REQUEST_ID_LENGTH))
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id


@contextlib.contextmanager
def cheaper_dispatch() -> Iterator[None]:
    """Patch the names moto's BaseResponse looks up, for the duration."""
    from moto.core import responses

    once = functools.cache(responses.method_names_from_class)
    with (
        mock.patch.object(responses, "method_names_from_class", once),
        mock.patch.object(responses, "gen_amzn_requestid_long", request_id),
    ):
        yield
