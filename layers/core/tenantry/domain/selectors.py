"""List filters for projects: state, owner, name prefix, mode and Kubernetes-style label
selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`, comma = AND). Pure Python, applied to items
as they are read, so every list path shares one definition of "matches"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from tenantry.errors import BadRequest

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


@dataclass(frozen=True)
class ProjectFilter:
    state: str | None = None
    owner: str | None = None
    name: str | None = None
    mode: Literal["default", "member"] = "default"
    labels: list[Requirement] = field(default_factory=list)

    def matches(self, project: dict[str, Any]) -> bool:
        status = project.get("status")
        if self.state:
            if status != self.state:
                return False
        elif status == "deleted":  # tombstones only when asked for by state=deleted
            return False
        if self.mode == "member" and status != "active":
            return False
        if self.owner and project.get("owner_id") != self.owner:
            return False
        if self.name and not str(project.get("name", "")).startswith(self.name):
            return False
        return labels_match(project.get("labels") or {}, self.labels)

    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (self.state, self.owner, self.name, self.mode, self.labels)
