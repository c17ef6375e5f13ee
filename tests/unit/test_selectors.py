import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenantry.domain.selectors import (
    LABEL_SELECTOR_PATTERN,
    NAMESPACE_FIELDS,
    PROJECT_FIELD_SELECTOR_PATTERN,
    PROJECT_FIELDS,
    SORTS,
    ProjectFilter,
    keyword_matches,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    parse_sort,
)
from tenantry.errors import BadRequest


def test_parse_all_forms():
    assert parse_label_selector("env=prod, tier!=web,team,!legacy,a==b") == [
        ("env", "=", "prod"),
        ("tier", "!=", "web"),
        ("team", "exists", None),
        ("legacy", "!exists", None),
        ("a", "=", "b"),
    ]


@pytest.mark.parametrize("bad", ["=x", "a=b=c", "!a=b", "a b", ",", "a=,", "-a"])
def test_parse_rejects_malformed(bad):
    with pytest.raises(BadRequest):
        parse_label_selector(bad)


@pytest.mark.parametrize(
    ("labels", "selector", "expected"),
    [
        ({"env": "prod"}, "env=prod", True),
        ({"env": "dev"}, "env=prod", False),
        ({}, "env!=prod", True),  # Kubernetes semantics: absent matches !=
        ({"env": "prod"}, "env!=prod", False),
        ({"team": "x"}, "team", True),
        ({}, "team", False),
        ({"legacy": "1"}, "!legacy", False),
        ({"env": "prod", "team": "a"}, "env=prod,team", True),
        ({"env": "prod"}, "env=prod,team", False),
    ],
)
def test_labels_match(labels, selector, expected):
    assert labels_match(labels, parse_label_selector(selector)) is expected


def test_filter_hides_tombstones_unless_asked():
    deleted = {"status": "deleted", "name": "x", "owner_id": "u"}
    assert not ProjectFilter().matches(deleted)
    assert ProjectFilter(state="deleted").matches(deleted)


def test_filter_member_mode_only_active():
    assert ProjectFilter(mode="member").matches({"status": "active", "name": "a"})
    assert not ProjectFilter(mode="member").matches({"status": "suspended", "name": "a"})


def test_filter_owner_and_name_prefix():
    p = {"status": "active", "name": "payments-api", "owner_id": "u1", "labels": {}}
    assert ProjectFilter(owner="u1", name="pay").matches(p)
    assert not ProjectFilter(owner="u2").matches(p)
    assert not ProjectFilter(name="api").matches(p)


@pytest.mark.parametrize(
    "selector",
    [
        "",
        "a",
        "!a",
        "a=b",
        "a==b",
        "a!=b",
        "a=",
        " a = b",
        "a=b, !c ,d!=e",
        "a,",
        ",",
        "!a=b",
        "a=b=c",
        "a/b=c",
        "-a",
        "a\n",
        "a=b\t",
        "ä=b",
        "a=" + "x" * 64,
    ],
)
def test_the_spec_pattern_and_the_parser_agree(selector: str) -> None:
    in_spec = re.fullmatch(LABEL_SELECTOR_PATTERN, selector) is not None
    try:
        parse_label_selector(selector)
        parsed = True
    except BadRequest:
        parsed = False
    assert parsed == in_spec, selector


# --- field selectors, sort_by, filter_by (issue 10, item 6) -------------------------------


def test_parse_field_selector_forms():
    assert parse_field_selector(
        "metadata.name=shop, status.phase!=deleted,status.phase==active", PROJECT_FIELDS
    ) == (
        ("metadata.name", "=", "shop"),
        ("status.phase", "!=", "deleted"),
        ("status.phase", "=", "active"),
    )
    assert parse_field_selector("", PROJECT_FIELDS) == ()
    assert parse_field_selector("status.phase=Created", NAMESPACE_FIELDS) == (
        ("status.phase", "=", "Created"),
    )


@pytest.mark.parametrize(
    ("selector", "named"),
    [
        ("spec.owner=u1", "spec.owner"),  # a field the list does not select on
        ("status.phase=Created", "status.phase"),  # a namespace's phase, not a project's
        ("metadata.name=UPPER", "metadata.name"),
        ("metadata.name", "metadata.name"),
        ("=x", "=x"),
        ("metadata.name=a=b", "metadata.name=a=b"),
    ],
)
def test_field_selector_refusals_name_the_field(selector, named):
    with pytest.raises(BadRequest) as refused:
        parse_field_selector(selector, PROJECT_FIELDS)
    problem = refused.value.problem("r")
    assert named in problem["detail"], problem
    assert problem["errors"][0]["loc"] == ["query", "field_selector"]


@pytest.mark.parametrize(
    "selector",
    [
        "",
        "metadata.name=a",
        "metadata.name==a-b",
        "metadata.name!=a1",
        "status.phase=active",
        " status.phase!=deleted , metadata.name=x",
        "status.phase=Active",
        "status.phase=",
        "metadata.name=-a",
        "metadata.name=a-",
        "metadata.name=" + "a" * 63,
        "metadata.name=" + "a" * 64,
        "metadata.name=a,",
        ",",
        "spec.x=a",
        "metadata.name=a\t",
        "metadata.name = a",
        "status.phase=active,status.phase!=failed,metadata.name!=b",
    ],
)
def test_the_field_selector_spec_pattern_and_the_parser_agree(selector: str) -> None:
    in_spec = re.fullmatch(PROJECT_FIELD_SELECTOR_PATTERN, selector) is not None
    try:
        parse_field_selector(selector, PROJECT_FIELDS)
        parsed = True
    except BadRequest:
        parsed = False
    assert parsed == in_spec, selector


def test_sort_by():
    assert parse_sort(None) == "name"
    assert [parse_sort(s) for s in SORTS] == list(SORTS)
    for bad in ("updated_at", "+name", "NAME", "-", ""):
        with pytest.raises(BadRequest) as refused:
            parse_sort(bad)
        assert refused.value.problem("r")["errors"][0]["loc"] == ["query", "sort_by"]
    flt = ProjectFilter(sort="-created_at")
    assert flt.by_created and flt.reverse
    assert not ProjectFilter().by_created and not ProjectFilter().reverse


def test_filter_by_is_a_case_insensitive_substring_of_name_or_description():
    p = {"status": "active", "name": "Payments API", "description": "Card STRASSE"}
    assert ProjectFilter(keyword="payments").matches(p)
    assert ProjectFilter(keyword="MENTS a").matches(p)
    assert ProjectFilter(keyword="straße").matches(p)  # casefold: ß is ss
    assert not ProjectFilter(keyword="ledger").matches(p)
    assert ProjectFilter(keyword="card").matches({**p, "description": None}) is False
    assert keyword_matches(None, "x") and keyword_matches("", "x")


def test_field_selector_matching():
    p = {"id": "shop", "status": "suspended", "name": "Shop", "owner_id": "u"}
    fields = lambda s: parse_field_selector(s, PROJECT_FIELDS)  # noqa: E731
    assert ProjectFilter(fields=fields("metadata.name=shop")).matches(p)
    assert not ProjectFilter(fields=fields("metadata.name!=shop")).matches(p)
    assert ProjectFilter(fields=fields("status.phase=suspended")).matches(p)
    assert not ProjectFilter(fields=fields("status.phase!=suspended")).matches(p)
    assert ProjectFilter(fields=fields("status.phase!=active")).matches(p)
    # a tombstone only when its status is asked for
    gone = {**p, "status": "deleted"}
    assert not ProjectFilter(fields=fields("status.phase!=active")).matches(gone)
    assert ProjectFilter(fields=fields("status.phase=deleted")).matches(gone)
    assert ProjectFilter(state="deleted", fields=fields("metadata.name=shop")).matches(gone)


STATUS_VALUES = ("active", "suspended", "deleted", "failed")
ID_VALUES = ("a", "b")


@settings(max_examples=300, deadline=None)
@given(
    terms=st.lists(
        st.tuples(
            st.sampled_from(("metadata.name", "status.phase")),
            st.sampled_from(("=", "!=")),
            st.sampled_from(STATUS_VALUES + ID_VALUES),
        ),
        max_size=4,
    ),
    state=st.sampled_from((None, *STATUS_VALUES)),
    mode=st.sampled_from(("default", "member")),
    status=st.sampled_from(STATUS_VALUES),
    pid=st.sampled_from(ID_VALUES),
)
def test_impossible_means_nothing_matches(terms, state, mode, status, pid):
    """The lists answer an impossible selection at once, empty, without reading: that must
    be exactly what matches would make of every project. And the rows of the creation-order
    index (id, status, owner) are never dropped when the project would match."""
    fields = tuple(
        (f, op, v)
        for f, op, v in terms
        if (f == "status.phase") == (v in STATUS_VALUES)  # each field its own values
    )
    flt = ProjectFilter(state=state, mode=mode, fields=fields)
    project = {"id": pid, "status": status, "name": pid, "owner_id": "u", "labels": {}}
    if flt.impossible:
        assert not flt.matches(project)
    if flt.matches(project):
        assert flt.matches_row({k: project[k] for k in ("id", "status", "owner_id")})
