"""Chart discovery's rules without AWS: kind names from repositories, tag formats and the
parse of tags, the ECR event, and a chart's platz/ files read from its archive (what
counts, what is named in `error`, and the bounds on hostile archives and YAML)."""

from __future__ import annotations

import io
import tarfile
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from local.ecr_registry import DEMO_CHARTS, archive, package_chart
from tenantry.domain import chart_discovery
from tenantry.domain.catalog import parse_tag
from tenantry.models.catalog import EcrImageAction, HelmTagFormatCreate


@pytest.mark.parametrize(
    ("repo", "kind"),
    [
        ("charts/web-frontend-chart", "web-frontend"),
        ("charts/web-frontend-charts", "web-frontend"),
        ("charts/worker", "worker"),
        ("charts/chart", "chart"),
        ("charts/-chart-", "chart"),
        ("charts/team/api.v2_chart", "team-api-v2-chart"),
        ("charts/chart-not-last", "chart-not-last"),
        ("charts/" + "a" * 80 + "-chart", "a" * 53),
    ],
)
def test_a_kind_is_named_after_its_repository(repo: str, kind: str) -> None:
    assert chart_discovery.kind_name(repo) == kind


FORMATS = [
    {
        "id": "semver-branch",
        "pattern": r"^(?P<version>\d+\.\d+\.\d+)-(?P<branch>[a-z]+)-(?P<commit>[0-9a-f]{7})$",
    },
    {"id": "semver", "pattern": r"^v?(?P<version>\d+\.\d+\.\d+)"},
    {"id": "revision", "pattern": r"-r(?P<revision>\d+)$"},
]


def test_the_first_matching_format_parses_a_tag() -> None:
    assert parse_tag("1.4.0-main-3f9a2c1", FORMATS) == {
        "tag_format_id": "semver-branch",
        "parsed_version": "1.4.0",
        "parsed_revision": None,
        "parsed_branch": "main",
        "parsed_commit": "3f9a2c1",
    }
    # the second format is searched, not anchored at the end: a version and a suffix
    assert parse_tag("v2.0.1-r7", FORMATS)["tag_format_id"] == "semver"
    assert parse_tag("nightly-r7", FORMATS) == {
        "tag_format_id": "revision",
        "parsed_version": None,
        "parsed_revision": "7",
        "parsed_branch": None,
        "parsed_commit": None,
    }
    assert parse_tag("latest", FORMATS) == {}
    assert parse_tag("1.4.0-main-3f9a2c1", []) == {}


def test_a_format_stored_before_a_rule_refused_it_never_matches() -> None:
    assert parse_tag("1.0.0", [{"id": "bad", "pattern": "("}, *FORMATS]) == parse_tag(
        "1.0.0", FORMATS
    )


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(?P<version>[0-9+)", "not a valid regular expression"),
        (r"^\d+$", "String should match pattern"),
        ("(?P<version>x)(?P<flavour>y)", "not flavour"),
        ("(?P<version>a)|(?P<version>b)", "not a valid regular expression"),
    ],
)
def test_a_tag_format_must_compile_and_name_only_known_groups(pattern: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        HelmTagFormatCreate(pattern=pattern)


def test_a_tag_format_with_known_groups_is_taken() -> None:
    pattern = r"^(?P<branch>[a-z]+)-(?P<commit>[0-9a-f]+)$"
    assert HelmTagFormatCreate(pattern=pattern).pattern == pattern


def _event(**detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": "123456789012",
        "time": "2025-01-15T09:58:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": "charts/web-chart",
            "image-digest": "sha256:" + "a" * 64,
            "action-type": "PUSH",
            "image-tag": "1.0.0",
            **detail,
        },
    }


def test_the_ecr_event_is_read_with_its_hyphenated_fields() -> None:
    event = EcrImageAction.model_validate(_event())
    assert (event.account, event.region, event.detail.repository_name) == (
        "123456789012",
        "eu-west-1",
        "charts/web-chart",
    )
    assert event.detail.image_tag == "1.0.0" and event.detail.action_type == "PUSH"
    with pytest.raises(ValidationError):
        EcrImageAction.model_validate(_event(**{"action-type": "SCAN"}))
    with pytest.raises(ValidationError):
        EcrImageAction.model_validate({**_event(), "source": "aws.s3"})
    with pytest.raises(ValidationError):
        EcrImageAction.model_validate(_event(**{"image-digest": "not a digest"}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-15T09:58:00Z", "2025-01-15T09:58:00.000000Z"),
        ("2025-01-15T10:58:00+01:00", "2025-01-15T09:58:00.000000Z"),
        ("2025-01-15T09:58:00.25Z", "2025-01-15T09:58:00.250000Z"),
    ],
)
def test_event_times_are_in_the_catalogs_format(text: str, expected: str) -> None:
    assert chart_discovery.event_time(text) == expected


def test_an_event_without_a_readable_time_is_now() -> None:
    assert chart_discovery.event_time("yesterday").endswith("Z")
    assert chart_discovery.event_time(None) > "2025"


# --- the chart's platz/ files ---------------------------------------------------------------------

VALUES_UI = "apiVersion: platz.io/v1beta1\nkind: ValuesUi\ninputs:\n  - id: size\n    type: number\n    minimum: 0.5\n"


def _chart(**files: str | bytes) -> bytes:
    return archive({"Chart.yaml": "name: web\n", **{f"web/{k}": v for k, v in files.items()}})


def test_the_demo_charts_four_files_count() -> None:
    out = chart_discovery.read_extensions(package_chart(DEMO_CHARTS / "web-frontend"))
    assert out["error"] is None
    assert out["values_ui"]["kind"] == "ValuesUi"
    assert out["actions_schema"]["actions"][0]["id"] == "purge-cache"
    assert out["features"]["spec"]["cardinality"] == "Many"
    assert out["resource_types"]["key"] == "redirect"


def test_a_bad_file_is_named_in_error_and_the_others_count() -> None:
    out = chart_discovery.read_extensions(
        _chart(
            **{
                "platz/values-ui.yaml": VALUES_UI,
                "platz/actions.yaml": "spec: [unclosed\n",
                "platz/features.yaml": "- a list\n",
                "platz/resources.yaml": b"\xff\xfe",
            }
        )
    )
    assert out["values_ui"]["inputs"][0]["minimum"] == Decimal("0.5")  # storable in DynamoDB
    assert out["actions_schema"] is None and out["features"] is None
    assert out["resource_types"] is None
    error = out["error"]
    assert "platz/actions.yaml: not valid YAML" in error
    assert "platz/features.yaml: not a mapping" in error
    assert "platz/resources.yaml: not UTF-8 text" in error
    assert "values-ui" not in error


def test_missing_files_are_no_error_and_subcharts_are_not_read() -> None:
    out = chart_discovery.read_extensions(
        _chart(**{"charts/db/platz/values-ui.yaml": "kind: Sub\n", "platz/features.yaml": "a: 1\n"})
    )
    assert out == {
        "values_ui": None,
        "actions_schema": None,
        "features": {"a": 1},
        "resource_types": None,
        "error": None,
    }


def test_several_documents_are_a_list() -> None:
    out = chart_discovery.read_extensions(
        _chart(**{"platz/resources.yaml": "key: a\n---\nkey: b\n---\n"})
    )
    assert out["resource_types"] == [{"key": "a"}, {"key": "b"}]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("", "empty"),
        ("just text\n", "neither a mapping nor a list"),
        ("a: .nan\n", "out of the range the platform stores"),
        ("a: 1.0e+400\n", "out of the range the platform stores"),
        ("a: " + "9" * 40 + "\n", "more than 38 digits"),
        ("? [1, 2]\n: x\n", "not valid YAML"),
        ("a: &x [1, 2]\nb: *x\n", None),  # an alias is its value again
    ],
)
def test_values_a_table_cannot_hold_are_refused(content: str, why: str | None) -> None:
    out = chart_discovery.read_extensions(_chart(**{"platz/actions.yaml": content}))
    if why is None:
        assert out["error"] is None and out["actions_schema"] == {"a": [1, 2], "b": [1, 2]}
    else:
        assert why in out["error"], out


def test_an_alias_bomb_stops_early() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    out = chart_discovery.read_extensions(_chart(**{"platz/actions.yaml": "\n".join(lines)}))
    assert "more than 20000 values" in out["error"]


def test_deep_nesting_is_refused() -> None:
    deep = "a: " + "[" * 40 + "]" * 40 + "\n"
    out = chart_discovery.read_extensions(_chart(**{"platz/features.yaml": deep}))
    assert "nested more than 24 levels deep" in out["error"]


def test_a_file_over_the_size_limit_is_not_read() -> None:
    big = "a: " + "x" * (chart_discovery.MAX_FILE_BYTES + 1) + "\n"
    out = chart_discovery.read_extensions(
        _chart(**{"platz/features.yaml": big, "platz/values-ui.yaml": VALUES_UI})
    )
    assert "platz/features.yaml:" in out["error"] and "over 262144" in out["error"]
    assert out["values_ui"] is not None


def test_a_file_whose_parse_is_too_large_to_store_is_refused() -> None:
    many = "".join(f"k{i}: {'v' * 60}\n" for i in range(1500))
    out = chart_discovery.read_extensions(_chart(**{"platz/features.yaml": many}))
    assert "bytes as JSON, over 75000" in out["error"]


def test_a_link_in_place_of_a_file_is_named() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("web/platz/values-ui.yaml")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    out = chart_discovery.read_extensions(buffer.getvalue())
    assert out["error"] == "platz/values-ui.yaml: not a regular file"


@pytest.mark.parametrize("data", [b"not a gzip stream", b"\x1f\x8b\x08\x00" + b"\x00" * 20, b""])
def test_an_archive_that_cannot_be_read_is_named(data: bytes) -> None:
    out = chart_discovery.read_extensions(data)
    assert out["error"].startswith("the chart's archive cannot be read")
    assert all(out[f] is None for f in chart_discovery.EXTENSIONS.values())


def test_a_gzip_bomb_stops_at_the_unpacked_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_discovery, "MAX_UNPACKED_BYTES", 64 * 1024)
    out = chart_discovery.read_extensions(_chart(**{"zeros.bin": b"\0" * 200_000}))
    assert "unpacks to more than" in out["error"]


def test_an_archive_of_too_many_entries_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_discovery, "MAX_MEMBERS", 5)
    out = chart_discovery.read_extensions(_chart(**{f"templates/{i}.yaml": "" for i in range(9)}))
    assert "more than 5 entries" in out["error"]
