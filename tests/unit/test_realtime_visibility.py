"""tenantry.domain.realtime without AWS: who an event goes to, who is closed and why, the
messages a client sends, the token it connects with, the message it receives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenantry.domain import realtime
from tenantry.domain.realtime import Connection, audience, standing

NOW = 1_800_000_000


def conn(
    cid: str = "c1",
    *,
    kind: str = "user",
    who: str = "u1",
    admin: bool = False,
    token: str | None = "h1",
    expires: int = NOW + 60,
) -> Connection:
    return Connection(cid, kind, who, admin, token, expires)


def token(active: bool = True, admin: bool = False) -> dict[str, Any]:
    return {"owner_active": active, "owner_admin": admin}


def test_a_valid_token_keeps_its_connection() -> None:
    assert standing(conn(), {"h1": token()}, {}, NOW) is None
    assert standing(conn(admin=True), {"h1": token(admin=True)}, {}, NOW) is None


@pytest.mark.parametrize(
    ("connection", "tokens", "users", "why"),
    [
        (conn(expires=NOW), {"h1": token()}, {}, "expired"),
        (conn(), {}, {}, "revoked"),
        (conn(), {"h1": token(active=False)}, {}, "inactive"),
        (conn(kind="bot"), {"h1": token(active=False)}, {}, "bot is inactive"),
        (conn(), {"h1": token(admin=True)}, {}, "admin flag changed"),  # promoted
        (conn(admin=True), {"h1": token(admin=False)}, {}, "admin flag changed"),  # demoted
        # an OIDC identity's connection: its user, read by id; its JWT's expiry
        (conn(token=None), {}, {}, "inactive"),
        (conn(token=None), {}, {"u1": {"is_active": False}}, "inactive"),
        (conn(token=None, expires=NOW - 1), {}, {"u1": {"is_active": True}}, "expired"),
        # a token made before its item carried the owner's flags: the user's item decides
        (conn(), {"h1": {}}, {"u1": {"is_active": False}}, "inactive"),
        (conn(), {"h1": {}}, {}, "inactive"),  # the user is gone
    ],
)
def test_a_connection_is_closed_when_its_credential_no_longer_holds(
    connection: Connection,
    tokens: dict[str, Any],
    users: dict[str, Any],
    why: str,
) -> None:
    reason = standing(connection, tokens, users, NOW)
    assert reason is not None and why in reason


def test_an_oidc_identity_or_a_legacy_token_is_judged_by_its_user() -> None:
    assert standing(conn(token=None), {}, {"u1": {"is_active": True}}, NOW) is None
    assert standing(conn(), {"h1": {}}, {"u1": {"is_active": True}}, NOW) is None
    assert standing(conn(kind="bot"), {"h1": {}}, {}, NOW) is None  # bots are never admins
    assert realtime.needs_owner(conn(token=None), {})
    assert realtime.needs_owner(conn(), {"h1": {}})
    assert not realtime.needs_owner(conn(), {"h1": token()})
    assert not realtime.needs_owner(conn(), {})  # revoked: nothing to read


def test_the_audience_is_the_admins_and_the_members_once_each() -> None:
    """Only the connections the reads found take part (admins' and current members'): a
    connection of anyone else is never among them. One found twice is sent to once."""
    admin = conn("a", who="root", admin=True, token="ha")
    ann, ann2 = conn("m1", who="ann", token="hm"), conn("m2", who="ann", token="hm2")
    revoked = conn("m3", who="ann", token="gone")
    tokens = {"ha": token(admin=True), "hm": token(), "hm2": token()}
    send, drop = audience([admin], [ann, ann2, revoked, ann], tokens, {}, NOW)
    assert [c.id for c in send] == ["a", "m1", "m2"]
    assert [(c.id, "revoked" in why) for c, why in drop] == [("m3", True)]


def test_a_connection_item_reads_back_as_the_connection() -> None:
    item = {
        "connection_id": "L0SM9cOFvHcCIhw=",
        "principal_kind": "user",
        "principal_id": "u1",
        "is_admin": True,
        "token_hash": "h1",
        "expires_at": NOW,
    }
    assert Connection.of(item) == conn("L0SM9cOFvHcCIhw=", admin=True, expires=NOW)
    assert Connection.of({**item, "token_hash": None}).token_hash is None


def test_the_token_comes_from_the_header_else_from_the_query() -> None:
    assert realtime.credential({"Authorization": "Bearer tnt_a"}, {"token": "tnt_b"}) == "tnt_a"
    assert realtime.credential({"authorization": "Basic x"}, {"token": "tnt_b"}) == "tnt_b"
    assert realtime.credential({}, {"token": ""}) is None
    assert realtime.credential({}, {}) is None


def test_a_missing_token_is_refused_before_any_lookup() -> None:
    with pytest.raises(realtime.Refused) as refused:
        realtime.authorize({}, {})
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ('{"action": "ping"}', {"type": "pong"}),
        ('{"action": "ping", "id": 7}', {"type": "pong"}),
        ('{"action": "subscribe"}', None),
        ("ping", None),
        ("[]", None),
        (None, None),
        (json.dumps({"action": "ping", "pad": "x" * realtime.MAX_MESSAGE}), None),
    ],
)
def test_a_client_may_ping_and_nothing_else(body: str | None, answer: Any) -> None:
    got = realtime.message(body)
    if answer is None:
        assert got["type"] == "error" and got["detail"]
    else:
        assert got == answer


def test_the_message_is_the_protocols_envelope_around_the_events_detail() -> None:
    detail = {"id": "shop/4", "project_id": "shop", "seq": 4, "event": "provisioned"}
    event = {"source": "tenantry", "detail-type": "Project Status Changed", "detail": detail}
    assert json.loads(realtime.envelope(event)) == {
        "type": "event",
        "source": "tenantry",
        "detail_type": "Project Status Changed",
        "detail": detail,
    }
