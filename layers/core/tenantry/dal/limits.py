"""Limits against abuse, enforced by DynamoDB in the same transaction as the write.

Each limit is a counter item (keys.limit_counter / keys.daily_counter for a user's,
keys.project_limit_counter for a project's, in the project's partition) that the write's
TransactWriteItems moves with `ADD`, under the condition that it stays within the maximum.
Two concurrent requests can therefore never both take the last unit: there is no
read-then-write. When the counter's condition fails, table.transact turns it into the
limit's problem (refusal below): 413 for a standing quota, 429 for a per-day rate, with
`limit` (the name) and `max` in the body.

Standing counts go back down when what they count goes (a project deleted, a join request
answered or cancelled); only items that were counted are released (the project's
`owner_counted`, the membership's `pending_counted`), so items older than these limits
never push a counter below zero. Per-day counters expire by TTL a day after their day.

Platform admins are exempt (operators; an admin may create projects for others): their
writes move standing counters without a condition and skip per-day counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry.dal import keys, table
from tenantry.errors import QuotaExceeded, TenantryError, Throttled
from tenantry.settings import get_settings

MARK = ":limit_name"  # in a counter op's values: how table.transact recognises it


@dataclass(frozen=True)
class Limit:
    name: str
    setting: str  # the Settings field (env var, template parameter Max...)
    per_day: bool
    detail: str  # the problem's detail; {max} is the maximum
    per_project: bool = False  # counted per project (its id), not per principal


LIMITS = {
    limit.name: limit
    for limit in (
        Limit(
            "projects_per_user",
            "max_projects_per_user",
            False,
            "a user may own at most {max} projects; delete one first",
        ),
        Limit(
            "pending_join_requests_per_user",
            "max_pending_join_requests_per_user",
            False,
            "a user may have at most {max} pending join requests; cancel one or wait for answers",
        ),
        Limit(
            "join_requests_per_project_per_day",
            "max_join_requests_per_project_per_day",
            True,
            "a user may ask to join one project at most {max} times a day; try again tomorrow",
        ),
        Limit(
            "invites_per_user_per_day",
            "max_invites_per_user_per_day",
            True,
            "a user may invite at most {max} email addresses a day; try again tomorrow",
        ),
        Limit(
            "orgs_per_user_per_day",
            "max_orgs_per_user_per_day",
            True,
            "a user may create at most {max} orgs a day; try again tomorrow",
        ),
        Limit(
            "apps_per_project",
            "max_apps_per_project",
            False,
            "a project may have at most {max} apps; delete one first",
            per_project=True,
        ),
    )
}


def maximum(name: str) -> int:
    return int(getattr(get_settings(), LIMITS[name].setting))


def _today(now: datetime | None = None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _standing_counter(limit: Limit, owner_id: str, scope: str) -> dict[str, str]:
    if limit.per_project:
        return keys.project_limit_counter(owner_id, limit.name)
    return keys.limit_counter(owner_id, limit.name, scope)


def take(
    name: str, principal_id: str, *, exempt: bool = False, by: int = 1, scope: str = ""
) -> list[dict[str, Any]]:
    """The transaction ops that count `by` units of `name` for the principal (for a
    per-project limit: `principal_id` is the project's id), refused by DynamoDB past the
    maximum. Exempt (platform admins): a standing count still moves (so its release stays
    right), without a condition; a per-day count is skipped."""
    limit = LIMITS[name]
    if limit.per_day and exempt:
        return []
    names = {"#c": "count"}
    values: dict[str, Any] = {":by": by}
    sets = []
    if limit.per_day:
        day = _today()
        key = keys.daily_counter(principal_id, name, day.strftime("%Y-%m-%d"), scope)
        names["#exp"] = "expires_at"
        values[":exp"] = int((day + timedelta(days=2)).timestamp())
        sets.append("#exp = :exp")
    else:
        key = _standing_counter(limit, principal_id, scope)
    condition = None
    if not exempt:
        most = maximum(name)
        names.update({"#lim": "limit", "#max": "max"})
        values.update({MARK: name, ":max": most, ":room": most - by})
        sets += ["#lim = :limit_name", "#max = :max"]
        condition = "attribute_not_exists(#c) OR #c <= :room"
    expression = (f"SET {', '.join(sets)} " if sets else "") + "ADD #c :by"
    return [table.tx_update(key, expression, condition, names=names, values=values)]


def release(name: str, principal_id: str, *, by: int = 1, scope: str = "") -> dict[str, Any]:
    """The op that gives back `by` units of a standing count."""
    limit = LIMITS[name]
    assert not limit.per_day, "per-day counts expire, they are not released"
    return table.tx_update(
        _standing_counter(limit, principal_id, scope),
        "ADD #c :by",
        names={"#c": "count"},
        values={":by": -by},
    )


def release_owned(project: dict[str, Any]) -> list[dict[str, Any]]:
    """On a project's way to `deleted`: give its owner's projects_per_user unit back, if it
    was counted. The transition that deletes it also removes `owner_counted` under the
    status condition, so it is given back once."""
    if not project.get("owner_counted"):
        return []
    return [release("projects_per_user", project["owner_id"])]


def refusal(values: dict[str, Any]) -> TenantryError:
    """The problem for a counter op (its expression values) whose condition failed."""
    limit = LIMITS[str(values[MARK])]
    most = int(values[":max"])
    extra = {"limit": limit.name, "max": most}
    detail = limit.detail.format(max=most)
    if not limit.per_day:
        return QuotaExceeded(detail, extra=extra)
    tomorrow = _today() + timedelta(days=1)
    wait = max(1, int((tomorrow - datetime.now(UTC)).total_seconds()))
    return Throttled(detail, extra=extra, headers={"Retry-After": str(wait)})


def current(name: str, principal_id: str, scope: str = "") -> int:
    """A counter's value now (tests, operators)."""
    limit = LIMITS[name]
    key = (
        keys.daily_counter(principal_id, name, _today().strftime("%Y-%m-%d"), scope)
        if limit.per_day
        else _standing_counter(limit, principal_id, scope)
    )
    item = table.get(key)
    return int(item["count"]) if item else 0
