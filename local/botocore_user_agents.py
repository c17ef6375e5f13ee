"""botocore's User-Agent string made once per client and feature set (dev emulation only).

botocore builds a request's User-Agent header from its parts twice per call (once for the
request, once more to add the features the call used): ~40 us each, a tenth of a small
DynamoDB call through moto. The string depends on the client's user-agent settings, fixed
once the client is made, and on the features in use (the client's and the call's): so it
is kept per client, keyed by those features in the order botocore joins them, and made by
botocore's own code the first time. A subclass of botocore's builder is left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

_KEPT = "_local_user_agent_strings"  # builder attribute: {(features, config): string}


@contextlib.contextmanager
def user_agents_once() -> Iterator[None]:
    """Patch botocore's UserAgentString.to_string for the duration."""
    from botocore.context import get_context
    from botocore.useragent import UserAgentString

    original = UserAgentString.to_string

    def to_string(self: Any) -> str:
        if type(self) is not UserAgentString:
            return str(original(self))
        context = get_context()
        context_features = set() if context is None else context.features
        features = (self._client_features or set()).union(context_features)
        key = (tuple(features), self._client_config)  # as botocore joins them
        kept = self.__dict__.setdefault(_KEPT, {})
        found = kept.get(key)
        if found is None:
            found = kept[key] = original(self)
        return str(found)

    to_string.__wrapped__ = original  # type: ignore[attr-defined]  # botocore's, for tests
    with mock.patch.object(UserAgentString, "to_string", to_string):
        yield
