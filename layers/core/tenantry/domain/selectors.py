"""List filters for projects and namespaces: state, owner, name prefix, mode, and the
Kubernetes-style list options: label selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma =
AND), field selectors (`metadata.name=x`, `status.phase!=deleted`, comma = AND), `sort_by`
and `filter_by` (a keyword). Pure Python, applied to items as they are read, so every list
path shares one definition of "matches"; which index a list reads for them is the domain's
choice (tenantry.domain.projects.list_projects)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from tenantry.errors import BadRequest
from tenantry.models.namespaces import NamespaceStatus
from tenantry.models.project_fields import ProjectStatus

_KEY = r"[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?"
_TERM = re.compile(rf"^(?P<neg>!)?(?P<key>{_KEY})(?:(?P<op>==|=|!=)(?P<value>{_VALUE}))?$")
# The whole selector as openapi.json states it: terms as above (spaces around them allowed),
# comma-separated; empty means "no requirement".
_SPEC_TERM = rf" *(!{_KEY}|{_KEY}((==|=|!=){_VALUE})?) *"
LABEL_SELECTOR_PATTERN = rf"^({_SPEC_TERM}(,{_SPEC_TERM})*)?$"

Requirement = tuple[str, Literal["=", "!=", "exists", "!exists"], str | None]


def parse_label_selector(selector: str | None) -> list[Requirement]:
    if not selector:
        return []
    requirements: list[Requirement] = []
    for raw in selector.split(","):
        term = raw.strip(" ")
        m = _TERM.fullmatch(term)
        if not m or (m["neg"] and m["op"]):
            raise BadRequest(
                f"invalid label selector term {term!r}",
                errors=[
                    {
                        "loc": ["query", "label_selector"],
                        "msg": "use k=v, k!=v, k or !k, comma-separated",
                    }
                ],
            )
        if m["op"]:
            requirements.append((m["key"], "!=" if m["op"] == "!=" else "=", m["value"] or ""))
        else:
            requirements.append((m["key"], "!exists" if m["neg"] else "exists", None))
    return requirements


def labels_match(labels: dict[str, str], requirements: list[Requirement]) -> bool:
    for key, op, value in requirements:
        present = key in labels
        if op == "=" and labels.get(key) != value:
            return False
        if op == "!=" and present and labels[key] == value:
            return False
        if op == "exists" and not present:
            return False
        if op == "!exists" and present:
            return False
    return True


# --- field selectors -----------------------------------------------------------------------

FieldRequirement = tuple[str, Literal["=", "!="], str]
NAME_FIELD, PHASE_FIELD = "metadata.name", "status.phase"
# metadata.name is a project's id, which is also its namespaces' name: a DNS label.
_DNS_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
# What each list selects on: field -> the values it takes (a regular expression).
PROJECT_FIELDS: Mapping[str, str] = {
    NAME_FIELD: _DNS_LABEL,
    PHASE_FIELD: "(" + "|".join(get_args(ProjectStatus)) + ")",
}
NAMESPACE_FIELDS: Mapping[str, str] = {
    NAME_FIELD: _DNS_LABEL,
    PHASE_FIELD: "(" + "|".join(get_args(NamespaceStatus)) + ")",
}
_FIELD_TERM = re.compile(r"^(?P<field>[^=!, ]+)(?P<op>==|!=|=)(?P<value>[^=!, ]*)$")


def field_selector_pattern(fields: Mapping[str, str]) -> str:
    """The whole selector as openapi.json states it: terms `<field>(=|==|!=)<value>`
    (spaces around them allowed), comma-separated; empty means "no requirement"."""
    term = " *(" + "|".join(f"{re.escape(f)}(==|=|!=){v}" for f, v in fields.items()) + ") *"
    return rf"^({term}(,{term})*)?$"


PROJECT_FIELD_SELECTOR_PATTERN = field_selector_pattern(PROJECT_FIELDS)
NAMESPACE_FIELD_SELECTOR_PATTERN = field_selector_pattern(NAMESPACE_FIELDS)


def _field_error(detail: str, msg: str) -> BadRequest:
    return BadRequest(detail, errors=[{"loc": ["query", "field_selector"], "msg": msg}])


def parse_field_selector(
    selector: str | None, fields: Mapping[str, str]
) -> tuple[FieldRequirement, ...]:
    """`metadata.name=x,status.phase!=deleted` as requirements; a term that is not
    `<field>(=|==|!=)<value>`, a field the list does not select on or a value the field
    cannot take is 400 naming it."""
    if not selector:
        return ()
    requirements: list[FieldRequirement] = []
    for raw in selector.split(","):
        term = raw.strip(" ")
        m = _FIELD_TERM.fullmatch(term)
        if not m:
            raise _field_error(
                f"invalid field selector term {term!r}",
                "use <field>=<value>, <field>==<value> or <field>!=<value>, comma-separated",
            )
        name, value = m["field"], m["value"]
        if name not in fields:
            raise _field_error(
                f"cannot select on field {name!r}",
                f"field {name!r} is not supported; this list selects on " + " and ".join(fields),
            )
        if not re.fullmatch(fields[name], value):
            raise _field_error(
                f"{name} cannot be {value!r}",
                f"{name}: {value!r} is not a value it takes ({fields[name]})",
            )
        requirements.append((name, "!=" if m["op"] == "!=" else "=", value))
    return tuple(requirements)


def _wanted(fields: tuple[FieldRequirement, ...], name: str) -> tuple[set[str], set[str]]:
    """The values `name` must have (each `=` term) and must not have (each `!=` term)."""
    equal = {v for f, op, v in fields if f == name and op == "="}
    return equal, {v for f, op, v in fields if f == name and op == "!="}


# --- sort_by and filter_by ----------------------------------------------------------------

# `name` is metadata.name (a project's id, a namespace's name); `-` sorts descending.
SORTS = ("name", "-name", "created_at", "-created_at")


def parse_sort(sort_by: str | None) -> str:
    """The sort asked for (`name` when none); any other is 400 naming sort_by."""
    if sort_by is None:
        return "name"
    if sort_by not in SORTS:
        raise BadRequest(
            f"cannot sort by {sort_by!r}",
            errors=[{"loc": ["query", "sort_by"], "msg": "one of " + ", ".join(SORTS)}],
        )
    return sort_by


def keyword_matches(keyword: str | None, *texts: Any) -> bool:
    """filter_by: the keyword is found in one of `texts`, ignoring case (casefold)."""
    if not keyword:
        return True
    wanted = keyword.casefold()
    return any(wanted in str(t or "").casefold() for t in texts)


# --- projects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectFilter:
    state: str | None = None
    owner: str | None = None
    name: str | None = None  # a prefix of the display name
    mode: Literal["default", "member"] = "default"
    labels: list[Requirement] = field(default_factory=list)
    fields: tuple[FieldRequirement, ...] = ()
    keyword: str | None = None  # filter_by: in the display name or the description
    sort: str = "name"  # one of SORTS

    # --- what the selectors come to ---

    @property
    def phases(self) -> tuple[set[str], set[str]]:
        """The statuses a project must have (`state`, each status.phase=) and must not."""
        equal, other = _wanted(self.fields, PHASE_FIELD)
        return equal | ({self.state} if self.state else set()), other

    @property
    def phase(self) -> str | None:
        """The one status the list is limited to, if any (impossible says when two are
        asked for at once)."""
        equal, _ = self.phases
        return next(iter(equal)) if len(equal) == 1 else None

    @property
    def project_id(self) -> str | None:
        """The one project the list is limited to (metadata.name=), if any."""
        equal, _ = _wanted(self.fields, NAME_FIELD)
        return next(iter(equal)) if len(equal) == 1 else None

    @property
    def impossible(self) -> bool:
        """No project can match (two statuses or two ids at once, one asked for and
        excluded, mode=member with a status other than active): the list is empty
        without reading anything."""
        phases, not_phases = self.phases
        names, not_names = _wanted(self.fields, NAME_FIELD)
        return (
            len(phases) > 1
            or len(names) > 1
            or bool(phases & not_phases)
            or bool(names & not_names)
            or (self.mode == "member" and bool(phases - {"active"}))
        )

    @property
    def by_created(self) -> bool:
        return self.sort.lstrip("-") == "created_at"

    @property
    def reverse(self) -> bool:
        return self.sort.startswith("-")

    # --- matching ---

    def matches_row(self, row: dict[str, Any]) -> bool:
        """What can be decided from a project's id, status and owner (all a creation-order
        index row carries): the project can match only if this holds."""
        status = row.get("status")
        phases, not_phases = self.phases
        if phases:
            if phases != {status}:  # each `=` must hold: two statuses at once, none
                return False
        elif status == "deleted":  # tombstones only when asked for by their status
            return False
        if status in not_phases:
            return False
        if self.mode == "member" and status != "active":
            return False
        if self.owner and row.get("owner_id") != self.owner:
            return False
        names, not_names = _wanted(self.fields, NAME_FIELD)
        pid = row.get("id")
        return (not names or names == {pid}) and pid not in not_names

    def matches(self, project: dict[str, Any]) -> bool:
        if not self.matches_row(project):
            return False
        if self.name and not str(project.get("name", "")).startswith(self.name):
            return False
        if not keyword_matches(self.keyword, project.get("name"), project.get("description")):
            return False
        return labels_match(project.get("labels") or {}, self.labels)

    def fingerprint_parts(self) -> tuple[Any, ...]:
        """What a cursor of this list is bound to (the list options included: a cursor of
        one sort or selection is refused by another)."""
        parts: tuple[Any, ...] = (self.state, self.owner, self.name, self.mode, self.labels)
        options = (self.fields, self.keyword, self.sort)
        return parts if options == ((), None, "name") else (*parts, *options)


# --- namespaces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NamespaceFilter:
    """A project's namespaces: label selector on the namespace's labels, field selector on
    its name (metadata.name) and its status (status.phase), filter_by on its name and its
    project's display name and description (a namespace is its project's on a cluster:
    it has none of its own), sorted by name or creation time."""

    labels: list[Requirement] = field(default_factory=list)
    fields: tuple[FieldRequirement, ...] = ()
    keyword: str | None = None
    sort: str = "name"

    def matches(self, namespace: dict[str, Any], project: dict[str, Any]) -> bool:
        for name, key in ((NAME_FIELD, "name"), (PHASE_FIELD, "status")):
            equal, other = _wanted(self.fields, name)
            if (equal and namespace.get(key) not in equal) or namespace.get(key) in other:
                return False
        if not keyword_matches(
            self.keyword, namespace.get("name"), project.get("name"), project.get("description")
        ):
            return False
        return labels_match(namespace.get("labels") or {}, self.labels)

    def sorted(self, namespaces: list[dict[str, Any]]) -> list[dict[str, Any]]:
        field_name = self.sort.lstrip("-")
        return sorted(
            namespaces,
            key=lambda n: (str(n.get(field_name, "")), str(n.get("cluster", ""))),
            reverse=self.sort.startswith("-"),
        )
