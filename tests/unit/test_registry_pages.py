"""Pages of a project's images (tenantry.registry.list_images) against a registry that
pages as ECR does: by image, at most maxResults images per call, with a nextToken (moto's
ECR ignores both and answers everything at once, which the HTTP test covers). The list
has one entry per tag, so a page may end inside a registry page or inside an image's tags;
following the positions must still yield every entry once, never more than `limit` a page.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantry import registry


class FakeEcr:
    """describe_images over `tags_per_image` (an image with no tag is untagged)."""

    class exceptions:  # boto3 spells it so
        class RepositoryNotFoundException(Exception):
            pass

    def __init__(self, tags_per_image: list[int]) -> None:
        self.details = [
            {
                "imageDigest": f"sha256:{i:04d}",
                "imageTags": [f"t{i}-{j}" for j in range(n)],
                "imageSizeInBytes": 10 + i,
            }
            for i, n in enumerate(tags_per_image)
        ]
        self.calls: list[dict[str, Any]] = []

    def describe_images(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        size = kwargs["maxResults"]
        assert 1 <= size <= 1000
        start = int(kwargs.get("nextToken", "0"))
        page = self.details[start : start + size]
        out: dict[str, Any] = {"imageDetails": page}
        if start + size < len(self.details):
            out["nextToken"] = str(start + size)
        return out

    def entries(self) -> list[tuple[str, str | None]]:
        return [(d["imageDigest"], t) for d in self.details for t in d["imageTags"] or [None]]


def _follow(
    ecr: FakeEcr, limit: int, via_keys: bool = True
) -> tuple[list[tuple[str, str | None]], int]:
    seen: list[tuple[str, str | None]] = []
    start: registry.Position | None = None
    pages = 0
    while True:
        items, start = registry.list_images("p", limit, start)
        pages += 1
        assert len(items) <= limit, (limit, items)
        seen += [(i["digest"], i["tag"]) for i in items]
        if start is None:
            return seen, pages
        if via_keys:  # through the cursor's key, as the route does
            start = registry.Position.from_key(start.key(), limit)
        assert pages < 500


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(tags_per_image: list[int]) -> FakeEcr:
        ecr = FakeEcr(tags_per_image)
        monkeypatch.setattr(registry, "_ecr", lambda: ecr)
        return ecr

    return install


@settings(max_examples=60, deadline=None)
@given(
    tags=st.lists(st.integers(min_value=0, max_value=5), max_size=15),
    limit=st.integers(min_value=1, max_value=6),
)
def test_pages_hold_at_most_limit_and_every_entry_once(tags: list[int], limit: int) -> None:
    ecr = FakeEcr(tags)
    original = registry._ecr
    registry._ecr = lambda: ecr  # type: ignore[assignment]
    try:
        seen, _ = _follow(ecr, limit)
    finally:
        registry._ecr = original
    assert seen == ecr.entries()


def test_a_page_ending_inside_an_images_tags_resumes_there(fake: Any) -> None:
    ecr = fake([3, 1, 2])
    items, after = registry.list_images("p", 2, None)
    assert [i["tag"] for i in items] == ["t0-0", "t0-1"]
    assert after == registry.Position(None, 2, 2)
    items, after = registry.list_images("p", 2, after)
    assert [i["tag"] for i in items] == ["t0-2", "t1-0"]
    # the registry page is read again with the size it was first read with
    assert [c["maxResults"] for c in ecr.calls] == [2, 2]
    assert after == registry.Position("2", 2, 0)
    items, after = registry.list_images("p", 2, after)
    assert ([i["tag"] for i in items], after) == (["t2-0", "t2-1"], None)


def test_a_short_registry_remainder_is_topped_up_from_the_next_page(fake: Any) -> None:
    ecr = fake([1, 1, 1, 1])
    items, after = registry.list_images("p", 3, registry.Position(None, 2, 1))
    assert [i["tag"] for i in items] == ["t1-0", "t2-0", "t3-0"]
    assert after is None
    assert len(ecr.calls) == 2  # at most REGISTRY_READS_PER_PAGE


def test_positions_from_keys() -> None:
    assert registry.Position.from_key({"t": "abc"}, 25) == registry.Position("abc", 25, 0)
    assert registry.Position.from_key({"t": "", "n": "5", "o": "3"}, 25) == registry.Position(
        None, 5, 3
    )
    position = registry.Position("tok", 7, 4)
    assert registry.Position.from_key(position.key(), 1) == position
    for bad in (
        {},
        {"n": "5"},
        {"t": "", "n": "0"},
        {"t": "", "n": "1001"},
        {"t": "", "n": "-1"},
        {"t": "", "o": "x"},
        {"t": "", "o": "\u0661"},  # a non-ASCII digit
        {"t": "", "o": "9" * 7},
        {"t": "", "extra": "1"},
    ):
        with pytest.raises(registry.InvalidPageToken):
            registry.Position.from_key(bad, 25)
