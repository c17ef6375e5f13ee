import re

import pytest

from tenantry.domain.selectors import (
    LABEL_SELECTOR_PATTERN,
    ProjectFilter,
    labels_match,
    parse_label_selector,
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
