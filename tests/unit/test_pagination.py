import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantry.errors import BadRequest
from tenantry.pagination import collect, decode_cursor, encode_cursor, fingerprint


def test_cursor_round_trip():
    key = {"PK": "PROJECT#a", "SK": "PROJECT", "GSI1PK": "PROJECTS", "GSI1SK": "a"}
    cursor = encode_cursor(key, "s1")
    assert cursor and "PROJECT" not in cursor  # opaque
    assert decode_cursor(cursor, "s1") == key


def test_no_key_no_cursor():
    assert encode_cursor(None, "s") is None
    assert decode_cursor(None, "s") is None


@pytest.mark.parametrize("bad", ["garbage", "e30", "!!!", encode_cursor({"PK": 1}, "s") or "x"])
def test_bad_cursor_is_400(bad):
    with pytest.raises(BadRequest):
        decode_cursor(bad, "s")


def test_cursor_of_another_list_is_refused():
    cursor = encode_cursor({"PK": "a", "SK": "b"}, fingerprint("projects", "user-1"))
    with pytest.raises(BadRequest):
        decode_cursor(cursor, fingerprint("projects", "user-2"))


def test_collect_fills_page_across_filtered_reads():
    data = list(range(100))

    def fetch(n, key):
        start = key["i"] if key else 0
        chunk = data[start : start + n]
        nxt = {"i": start + n} if start + n < len(data) else None
        return [({"i": x + 1}, x if x % 3 == 0 else None) for x in chunk], nxt

    seen, key = [], None
    while True:
        items, key = collect(fetch, 5, key)
        assert len(items) <= 5
        seen.extend(items)
        if not key:
            break
    assert seen == [x for x in data if x % 3 == 0]  # nothing skipped, nothing repeated


def test_collect_stops_at_limit_mid_batch_with_resumable_cursor():
    def fetch(n, key):
        start = key["i"] if key else 0
        rows = [({"i": x + 1}, x) for x in range(start, min(start + 8, 12))]  # over-reads
        return rows, ({"i": start + 8} if start + 8 < 12 else None)

    items, last = collect(fetch, 5, None)
    assert items == [0, 1, 2, 3, 4] and last == {"i": 5}
    items, last = collect(fetch, 5, last)
    assert items == [5, 6, 7, 8, 9]


def test_collect_is_bounded():
    calls = []

    def fetch(n, key):
        calls.append(n)
        return [], {"i": len(calls)}

    items, last = collect(fetch, 10, None, max_reads=4)
    assert items == [] and last == {"i": 4} and len(calls) == 4


# --- a changing partition: every match that stays is returned exactly once ---------------

Partition = dict[str, bool]  # sort key -> whether the item matches the list's filter


def _query(partition: Partition, n: int, key: dict[str, str] | None):
    """What DynamoDB's Query does: the next `n` items after the start key in sort order
    (the start key need not exist any more), and a LastEvaluatedKey when it stopped at `n`."""
    after = key["k"] if key else ""
    found = sorted(k for k in partition if k > after)[:n]
    last = {"k": found[-1]} if len(found) == n else None
    return [({"k": k}, k if partition[k] else None) for k in found], last


@settings(max_examples=300, deadline=None)
@given(
    initial=st.dictionaries(st.text("abcdef", min_size=1, max_size=3), st.booleans(), max_size=40),
    limit=st.integers(1, 5),
    max_reads=st.integers(1, 4),
    changes=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["put", "delete"]),
                st.text("abcdef", min_size=1, max_size=3),
                st.booleans(),
            ),
            max_size=3,
        ),
        max_size=60,
    ),
)
def test_collect_over_a_changing_partition_loses_and_repeats_nothing(
    initial: Partition, limit: int, max_reads: int, changes: list[list[tuple[str, str, bool]]]
) -> None:
    """Pages collected with a small budget while items are put (new, or changing whether
    they match) and deleted between pages: no item twice, every item that matched all
    along returned, nothing returned that never matched; pages never over `limit`."""
    partition = dict(initial)
    always = {k for k, m in partition.items() if m}
    ever = set(always)
    returned: list[str] = []
    key = None
    for page_no in range(1000):
        items, key = collect(lambda n, k: _query(partition, n, k), limit, key, max_reads=max_reads)
        assert len(items) <= limit
        returned.extend(items)
        if key is None:
            break
        for op, k, match in changes[page_no] if page_no < len(changes) else []:
            if op == "put":
                partition[k] = match
            else:
                partition.pop(k, None)
            always = {a for a in always if partition.get(a)}
            ever |= {k for k, m in partition.items() if m}
    else:
        raise AssertionError("no end")
    assert len(returned) == len(set(returned)), returned
    assert always <= set(returned), always - set(returned)
    assert set(returned) <= ever


def test_collect_reads_about_what_a_page_still_lacks():
    """After the first read (`limit` rows), a page that is nearly full reads about the rows
    it still lacks at the density seen so far, not another `limit`: a member's list with a
    few tombstones among 25 rows reads ~28, not 50. A sparse filter still reads `limit`."""

    def fetcher(matches, calls):
        def fetch(n, key):
            calls.append(n)
            start = key["i"] if key else 0
            rows = [({"i": x + 1}, x if matches(x) else None) for x in range(start, start + n)]
            return rows, {"i": start + n}

        return fetch

    calls = []
    items, _ = collect(fetcher(lambda x: x % 10 != 9, calls), 10, None)
    assert len(items) == 10 and calls == [10, 2], calls  # 9 of 10 matched: 1 lacking
    calls = []
    collect(fetcher(lambda x: x % 50 == 0, calls), 10, None)
    assert calls == [10, 10, 10, 10], calls  # 1 in 50: every read is a full one
