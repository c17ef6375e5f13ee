"""Identity routes over HTTP, through the real authorizer: health, server info, the caller,
users, user tokens, bots and bot tokens (API.md, "Identity")."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    list_all,
    make_bot,
    make_user,
    tampered_cursors,
)

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
USER_FIELDS = {"id", "created_at", "display_name", "email", "is_admin", "is_active"}
MISSING = str(uuid.uuid4())


def _no_secret(body: Any, *secrets: str) -> None:
    """Nothing that could be a token secret or its hash appears in a response."""
    text = str(body)
    for secret in secrets:
        assert secret not in text, body
    for item in body["items"] if isinstance(body, dict) and "items" in body else [body]:
        assert not {"created_token", "token_hash", "hash", "secret", "token"} & item.keys(), item
    assert not re.search(r"\b[0-9a-f]{64}\b", text), body  # no SHA-256 hex


# --- meta and the caller ----------------------------------------------------------------------


def test_health_needs_no_token_and_server_info_needs_one(api: Api, admin_token: str) -> None:
    for token in (None, "not-a-token", admin_token):
        r = api.get("/health", token=token)
        assert (r.status, r.json()) == (200, {"status": "ok"}), r
        assert r.headers["content-type"].startswith("application/json"), r

    r = api.get("/server/info", token=admin_token)
    assert r.status == 200, r
    assert set(r.json()) == {"version"}, r
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", r.json()["version"]), r

    _, token = make_user(api, admin_token)
    assert api.get("/server/info", token=token).json() == r.json()

    assert_problem(api.get("/server/info"), 401, "unauthorized")
    assert_problem(api.get("/server/info", token="tnt_nope"), 401, "unauthorized")


def test_auth_me_for_admin_user_and_bad_tokens(api: Api, admin_token: str) -> None:
    r = api.get("/auth/me", token=admin_token)
    assert r.status == 200, r
    me = r.json()
    assert me["kind"] == "user" and me["is_admin"] is True, me
    assert uuid.UUID(me["id"]), me
    # A reserved TLD no identity provider can verify, and marked: no JWT signs in as it.
    assert me["email"] == "admin@tenantry.invalid", me
    from tenantry.dal import identity as store

    assert store.get_user(me["id"])["oidc_linkable"] is False

    user, token = make_user(api, admin_token, "Ada Lovelace", email="Ada@Example.COM")
    r = api.get("/auth/me", token=token)
    assert r.status == 200, r
    assert r.json() == {
        "kind": "user",
        "id": user["id"],
        "display_name": "Ada Lovelace",
        "email": "ada@example.com",
        "is_admin": False,
    }

    # no token, an unknown one, a wrong scheme, an empty bearer: 401 problem+json
    assert_problem(api.get("/auth/me"), 401, "unauthorized")
    assert_problem(api.get("/auth/me", token="tnt_" + "x" * 43), 401, "unauthorized")
    assert_problem(
        api.get("/auth/me", headers={"Authorization": f"Basic {token}"}), 401, "unauthorized"
    )
    assert_problem(api.get("/auth/me", headers={"Authorization": "Bearer "}), 401, "unauthorized")
    # a token's hash is not a token
    r = api.get("/user-tokens", token=token)
    token_id = r.json()["items"][0]["id"]
    assert_problem(api.get("/auth/me", token=token_id), 401, "unauthorized")


# --- users ------------------------------------------------------------------------------------


def test_create_user(api: Api, admin_token: str) -> None:
    r = api.post(
        "/users",
        token=admin_token,
        json={"email": "Grace@Navy.MIL", "display_name": "Grace Hopper", "is_admin": True},
    )
    assert r.status == 201, r
    user = r.json()
    assert user.keys() >= USER_FIELDS, user
    assert UUID4.match(user["id"]), user
    assert ISO_Z.match(user["created_at"]), user
    assert (user["email"], user["display_name"]) == ("grace@navy.mil", "Grace Hopper"), user
    assert (user["is_admin"], user["is_active"]) == (True, True), user
    assert r.headers["location"] == f"/users/{user['id']}", r
    assert r.headers["etag"] == f'"{user["version"]}"', r

    # defaults: not an admin
    r = api.post("/users", token=admin_token, json={"email": "x@y.io", "display_name": "X"})
    assert r.status == 201 and r.json()["is_admin"] is False, r

    # the email is unique, whatever its case
    body = {"email": "GRACE@navy.mil", "display_name": "Imposter"}
    assert_problem(api.post("/users", token=admin_token, json=body), 409, "conflict")

    # bad input
    assert_validation(
        api.post("/users", token=admin_token, json={"display_name": "No mail"}), ["body", "email"]
    )
    assert_validation(
        api.post("/users", token=admin_token, json={"email": "not-an-email", "display_name": "A"}),
        ["body", "email"],
    )
    assert_validation(
        api.post("/users", token=admin_token, json={"email": "a@b.io", "display_name": ""}),
        ["body", "display_name"],
    )
    assert_validation(
        api.post(
            "/users",
            token=admin_token,
            json={"email": "a@b.io", "display_name": "A", "role": "root"},
        ),
        ["body", "role"],
    )
    assert_validation(
        api.post(
            "/users",
            token=admin_token,
            json={"email": "a@b.io", "display_name": "A", "is_admin": "perhaps"},
        ),
        ["body", "is_admin"],
    )
    assert_problem(api.post("/users", token=admin_token, body="{not json"), 400)

    # wrong caller
    assert_problem(api.post("/users", json={"email": "n@o.io", "display_name": "N"}), 401)
    _, token = make_user(api, admin_token)
    assert_problem(
        api.post("/users", token=token, json={"email": "n@o.io", "display_name": "N"}),
        403,
        "forbidden",
    )
    _, bot_token = make_bot(api, admin_token)
    assert_problem(
        api.post("/users", token=bot_token, json={"email": "n@o.io", "display_name": "N"}), 403
    )
    # nothing was created by the refused requests
    r = api.get("/users", token=admin_token, query={"email": "n@o.io"})
    assert r.json()["items"] == [], r


def test_list_users_filters_and_pages(api: Api, admin_token: str) -> None:
    made = {}
    for name in ("Alan Turing", "Alonzo Church", "Kurt Goedel", "Emmy Noether", "Alan Kay"):
        user, _ = make_user(api, admin_token, name)
        made[name] = user
    r = api.patch(
        f"/users/{made['Kurt Goedel']['id']}", token=admin_token, json={"is_active": False}
    )
    assert r.status == 200, r

    everyone = list_all(api, admin_token, "/users", limit=2)
    ids = [u["id"] for u in everyone]
    assert len(ids) == len(set(ids)), ids  # no duplicates across pages
    assert {u["id"] for u in made.values()} <= set(ids)
    assert len(ids) == len(made) + 1  # and the platform admin
    for u in everyone:
        assert u.keys() >= USER_FIELDS, u

    def names(**query: Any) -> set[str]:
        return {u["display_name"] for u in list_all(api, admin_token, "/users", **query)}

    assert names(display_name="Alan") == {"Alan Turing", "Alan Kay"}
    assert names(display_name="Alan", limit=1) == {"Alan Turing", "Alan Kay"}
    assert names(is_active="false") == {"Kurt Goedel"}
    assert "Kurt Goedel" not in names(is_active="true")
    assert names(is_active="true") >= {"Alan Turing", "Alonzo Church", "Emmy Noether"}
    email = made["Emmy Noether"]["email"]
    assert names(email=email) == {"Emmy Noether"}
    assert names(email=email.upper()) == {"Emmy Noether"}
    assert names(email=email, is_active="false") == set()
    assert names(email="nobody@example.com") == set()
    assert names(display_name="Alonzo", is_active="true") == {"Alonzo Church"}

    # bad input
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "many"}, {"is_active": "sometimes"}):
        r = api.get("/users", token=admin_token, query=bad)
        assert_validation(r, ["query", next(iter(bad))])
    assert_problem(api.get("/users", token=admin_token, query={"cursor": "garbage!"}), 400)
    # a cursor of another list (another filter) is refused
    r = api.get("/users", token=admin_token, query={"limit": 1})
    cursor = r.json()["next_cursor"]
    assert cursor
    r = api.get(
        "/users", token=admin_token, query={"limit": 1, "cursor": cursor, "is_active": "true"}
    )
    assert_problem(r, 400)
    r = api.get("/bots", token=admin_token, query={"cursor": cursor})
    assert_problem(r, 400)

    # wrong caller
    assert_problem(api.get("/users"), 401)
    _, token = make_user(api, admin_token)
    assert_problem(api.get("/users", token=token), 403, "forbidden")


def test_get_user_admin_or_self(api: Api, admin_token: str) -> None:
    alice, alice_token = make_user(api, admin_token, "Alice")
    bob, bob_token = make_user(api, admin_token, "Bob")

    r = api.get(f"/users/{alice['id']}", token=admin_token)
    assert r.status == 200, r
    assert r.json() == alice
    assert r.headers["etag"] == f'"{alice["version"]}"', r

    r = api.get(f"/users/{alice['id']}", token=alice_token)
    assert (r.status, r.json()) == (200, alice), r

    # another user may not even see Alice: 404, the same as an id that does not exist
    hidden = assert_problem(api.get(f"/users/{alice['id']}", token=bob_token), 404, "not-found")
    missing = assert_problem(api.get(f"/users/{MISSING}", token=bob_token), 404, "not-found")
    assert hidden["detail"] == missing["detail"]
    assert alice["email"] not in str(hidden)

    assert_problem(api.get(f"/users/{MISSING}", token=admin_token), 404, "not-found")
    assert_problem(api.get(f"/users/{bob['id']}"), 401)
    assert_problem(api.get(f"/users/{bob['id']}", token="garbage"), 401)
    # a bot is nobody's self
    _, bot_token = make_bot(api, admin_token)
    assert_problem(api.get(f"/users/{bob['id']}", token=bot_token), 404)


def test_patch_user_if_match_and_deactivation(api: Api, admin_token: str) -> None:
    user, token = make_user(api, admin_token, "Mallory")
    other, other_token = make_user(api, admin_token, "Trent")
    assert api.get("/auth/me", token=token).status == 200

    r = api.get(f"/users/{user['id']}", token=admin_token)
    etag = r.headers["etag"]
    assert etag == '"1"', r

    r = api.patch(
        f"/users/{user['id']}",
        token=admin_token,
        json={"is_active": False},
        headers={"If-Match": etag},
    )
    assert r.status == 200, r
    changed = r.json()
    assert changed["is_active"] is False and changed["is_admin"] is False, changed
    assert changed["version"] == 2 and r.headers["etag"] == '"2"', r
    assert {k: v for k, v in changed.items() if k not in ("is_active", "version")} == {
        k: v for k, v in user.items() if k not in ("is_active", "version")
    }

    # an inactive user's tokens stop working at once
    assert_problem(api.get("/auth/me", token=token), 401, "unauthorized")
    assert_problem(api.get("/projects", token=token), 401)
    # no new token for an inactive user
    assert_validation(
        api.post("/user-tokens", token=admin_token, json={"user_id": user["id"]}),
        ["body", "user_id"],
    )

    # stale If-Match: 412, and nothing changes
    r = api.patch(
        f"/users/{user['id']}",
        token=admin_token,
        json={"is_admin": True},
        headers={"If-Match": etag},
    )
    assert_problem(r, 412, "precondition-failed")
    assert api.get(f"/users/{user['id']}", token=admin_token).json()["is_admin"] is False
    # an If-Match that is no ETag at all does not match the spec's pattern: 422; a version
    # too large to exist fails the precondition
    r = api.patch(
        f"/users/{user['id']}",
        token=admin_token,
        json={"is_admin": True},
        headers={"If-Match": "yesterday"},
    )
    assert_validation(r, ["header", "if-match"])
    r = api.patch(
        f"/users/{user['id']}",
        token=admin_token,
        json={"is_admin": True},
        headers={"If-Match": '"999999999999999999"'},
    )
    assert_problem(r, 412)

    # reactivated, the same token works again; without If-Match the write is unconditional
    r = api.patch(f"/users/{user['id']}", token=admin_token, json={"is_active": True})
    assert r.status == 200 and r.json()["version"] == 3, r
    assert api.get("/auth/me", token=token).json()["id"] == user["id"]

    # promotion takes effect on the next request
    r = api.patch(
        f"/users/{user['id']}",
        token=admin_token,
        json={"is_admin": True},
        headers={"If-Match": '"3"'},
    )
    assert r.status == 200 and r.json()["is_admin"] is True, r
    assert api.get("/auth/me", token=token).json()["is_admin"] is True
    assert api.get("/users", token=token).status == 200

    # bad input
    assert_problem(api.patch(f"/users/{user['id']}", token=admin_token, json={}), 422)
    assert_validation(
        api.patch(f"/users/{user['id']}", token=admin_token, json={"is_active": "sometimes"}),
        ["body", "is_active"],
    )
    assert_validation(
        api.patch(f"/users/{user['id']}", token=admin_token, json={"email": "new@x.io"}),
        ["body", "email"],
    )
    assert_problem(api.patch(f"/users/{user['id']}", token=admin_token, body="{"), 400)

    # wrong caller: self may see but not change (403), others may not see (404)
    assert_problem(
        api.patch(f"/users/{other['id']}", token=other_token, json={"is_admin": True}),
        403,
        "forbidden",
    )
    r = api.patch(
        f"/users/{admin_user_id(api, admin_token)}", token=other_token, json={"is_admin": False}
    )
    assert_problem(r, 404)
    assert_problem(api.patch(f"/users/{other['id']}", json={"is_admin": True}), 401)
    assert api.get(f"/users/{other['id']}", token=admin_token).json()["is_admin"] is False

    # missing user
    assert_problem(
        api.patch(f"/users/{MISSING}", token=admin_token, json={"is_active": False}), 404
    )


def admin_user_id(api: Api, admin_token: str) -> str:
    return str(api.get("/auth/me", token=admin_token).json()["id"])


# --- user tokens ------------------------------------------------------------------------------


def test_user_tokens_lifecycle(api: Api, admin_token: str) -> None:
    user, first = make_user(api, admin_token, "Tokyo")
    _, other_token = make_user(api, admin_token, "Oslo")

    # self creates a token: 201, the secret shown once
    r = api.post("/user-tokens", token=first, json={"user_id": user["id"]})
    assert r.status == 201, r
    created = r.json()
    assert set(created) == {"id", "created_token"}, created
    assert r.headers["location"] == f"/user-tokens/{created['id']}", r
    second = created["created_token"]
    assert second != first and len(second) >= 32
    # the admin may create one for the user too
    r = api.post("/user-tokens", token=admin_token, json={"user_id": user["id"]})
    assert r.status == 201, r
    third_id, third = r.json()["id"], r.json()["created_token"]

    # not yet used: no last_used_at
    r = api.get(f"/user-tokens/{created['id']}", token=first)
    assert r.status == 200, r
    record = r.json()
    assert record["id"] == created["id"] and record["user_id"] == user["id"], record
    assert ISO_Z.match(record["created_at"]), record
    assert record.get("last_used_at") is None, record
    _no_secret(record, first, second, third)

    # used once: last_used_at appears
    assert api.get("/auth/me", token=second).json()["id"] == user["id"]
    r = api.get(f"/user-tokens/{created['id']}", token=first)
    used = r.json()
    assert used["last_used_at"] and ISO_Z.match(used["last_used_at"]), used
    assert used["last_used_at"] >= used["created_at"]

    # the list: all three, never a secret or a hash
    r = api.get("/user-tokens", token=second)
    assert r.status == 200, r
    listed = r.json()
    assert len(listed["items"]) == 3 and listed["next_cursor"] is None, listed
    assert {created["id"], third_id} < {t["id"] for t in listed["items"]}, listed
    assert all(t["user_id"] == user["id"] for t in listed["items"]), listed
    _no_secret(listed, first, second, third)
    paged = list_all(api, second, "/user-tokens", limit=1)
    assert sorted(t["id"] for t in paged) == sorted(t["id"] for t in listed["items"])

    # the admin lists them with user_id; without it, the admin's own
    r = api.get("/user-tokens", token=admin_token, query={"user_id": user["id"]})
    assert {t["id"] for t in r.json()["items"]} == {t["id"] for t in listed["items"]}, r
    _no_secret(r.json(), first, second, third)
    r = api.get("/user-tokens", token=admin_token)
    assert all(t["user_id"] == admin_user_id(api, admin_token) for t in r.json()["items"]), r
    assert r.json()["items"], r

    # wrong callers: another user neither lists, reads, creates for nor deletes them
    assert_problem(api.get("/user-tokens", token=other_token, query={"user_id": user["id"]}), 403)
    assert_problem(api.get(f"/user-tokens/{created['id']}", token=other_token), 404)
    assert_problem(api.delete(f"/user-tokens/{created['id']}", token=other_token), 404)
    assert_problem(api.post("/user-tokens", token=other_token, json={"user_id": user["id"]}), 404)
    assert api.get("/auth/me", token=second).status == 200  # untouched
    assert_problem(api.get("/user-tokens"), 401)
    assert_problem(api.post("/user-tokens", json={"user_id": user["id"]}), 401)
    assert_problem(api.get(f"/user-tokens/{created['id']}"), 401)
    assert_problem(api.delete(f"/user-tokens/{created['id']}"), 401)

    # bad input and missing things
    assert_validation(api.post("/user-tokens", token=first, json={}), ["body", "user_id"])
    assert_validation(
        api.post("/user-tokens", token=first, json={"user_id": user["id"], "ttl": 5}),
        ["body", "ttl"],
    )
    assert_problem(api.post("/user-tokens", token=first, body="nope"), 400)
    assert_problem(api.post("/user-tokens", token=admin_token, json={"user_id": MISSING}), 404)
    assert_problem(api.get(f"/user-tokens/{MISSING}", token=admin_token), 404)
    assert_problem(api.delete(f"/user-tokens/{MISSING}", token=admin_token), 404)
    assert_problem(api.get("/user-tokens", token=first, query={"limit": 0}), 422)
    assert_problem(api.get("/user-tokens", token=first, query={"cursor": "x"}), 400)

    # DELETE revokes at once: the very next request with it is 401
    r = api.delete(f"/user-tokens/{created['id']}", token=first)
    assert (r.status, r.body) == (204, ""), r
    assert_problem(api.get("/auth/me", token=second), 401, "unauthorized")
    assert_problem(api.get(f"/user-tokens/{created['id']}", token=first), 404)
    assert_problem(api.delete(f"/user-tokens/{created['id']}", token=first), 404)
    # the admin revokes another; a token may revoke itself
    assert api.delete(f"/user-tokens/{third_id}", token=admin_token).status == 204
    assert_problem(api.get("/auth/me", token=third), 401)
    own_id = api.get("/user-tokens", token=first).json()["items"][0]["id"]
    assert api.delete(f"/user-tokens/{own_id}", token=first).status == 204
    assert_problem(api.get("/auth/me", token=first), 401)
    r = api.get("/user-tokens", token=admin_token, query={"user_id": user["id"]})
    assert r.json()["items"] == [], r
    assert api.get("/auth/me", token=other_token).status == 200  # others unaffected


def _failure(kind: str) -> Exception:
    """What DynamoDB (or the network) answers the token-use write with."""
    from botocore.exceptions import ClientError, ReadTimeoutError

    if kind == "read-timeout":
        return ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
    if kind in ("TransactionConflict", "ThrottlingError"):
        response: dict[str, Any] = {
            "Error": {"Code": "TransactionCanceledException", "Message": kind},
            "CancellationReasons": [{"Code": kind}, {"Code": "None"}],
        }
    else:
        response = {"Error": {"Code": kind, "Message": kind}}
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kind",
    [
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "InternalServerError",
        "read-timeout",
    ],
)
def test_a_failed_token_use_write_never_fails_the_request(
    api: Api,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    """The authorizer records a token's use at most once a minute (last_used_at, one
    TransactWriteItems on the token's two items). That write is bookkeeping: a transaction
    conflict with another request of the same token, throttling, a DynamoDB error or a
    timeout on it must never turn into an error for the request itself; it is logged.
    Injected at botocore's door, below tenantry.dal, so the dal's error mapping is
    exercised too."""
    from botocore.client import BaseClient

    user, token = make_user(api, admin_token, "Busy")
    r = api.get("/user-tokens", token=admin_token, query={"user_id": user["id"]})
    (token_id,) = [t["id"] for t in r.json()["items"]]  # read by the admin: the token is unused
    make_api_call = BaseClient._make_api_call
    refused: list[str] = []

    def failing(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "TransactWriteItems" and "last_used_at" in str(params):
            refused.append(operation)
            raise _failure(kind)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", failing)
    caplog.clear()
    r = api.get("/auth/me", token=token)
    monkeypatch.undo()
    assert r.status == 200 and r.json()["id"] == user["id"], r
    assert refused == ["TransactWriteItems"], refused
    assert "could not record the token's use" in caplog.text, caplog.text
    # nothing was recorded, so the next request records the use
    assert api.get(f"/user-tokens/{token_id}", token=admin_token).json().get("last_used_at") is None
    assert api.get("/auth/me", token=token).status == 200
    assert api.get(f"/user-tokens/{token_id}", token=admin_token).json()["last_used_at"]


# --- bots and bot tokens ----------------------------------------------------------------------


def test_bots_crud(api: Api, admin_token: str) -> None:
    r = api.post("/bots", token=admin_token, json={"display_name": "CI runner"})
    assert r.status == 201, r
    bot = r.json()
    assert {"id", "created_at", "display_name"} <= bot.keys(), bot
    assert UUID4.match(bot["id"]) and ISO_Z.match(bot["created_at"]), bot
    assert bot["display_name"] == "CI runner"
    assert r.headers["location"] == f"/bots/{bot['id']}", r
    assert r.headers["etag"] == f'"{bot["version"]}"', r

    others = [make_bot(api, admin_token, f"Bot {i}")[0] for i in range(3)]
    listed = list_all(api, admin_token, "/bots", limit=2)
    assert sorted(b["id"] for b in listed) == sorted([bot["id"], *(b["id"] for b in others)])

    r = api.get(f"/bots/{bot['id']}", token=admin_token)
    assert (r.status, r.json()) == (200, bot), r
    etag = r.headers["etag"]

    r = api.patch(
        f"/bots/{bot['id']}",
        token=admin_token,
        json={"display_name": "CI runner v2"},
        headers={"If-Match": etag},
    )
    assert r.status == 200, r
    assert r.json()["display_name"] == "CI runner v2" and r.json()["version"] == bot["version"] + 1
    assert r.headers["etag"] == f'"{bot["version"] + 1}"', r
    r = api.patch(
        f"/bots/{bot['id']}",
        token=admin_token,
        json={"display_name": "x"},
        headers={"If-Match": etag},
    )
    assert_problem(r, 412, "precondition-failed")
    assert api.get(f"/bots/{bot['id']}", token=admin_token).json()["display_name"] == "CI runner v2"

    # bad input
    assert_validation(api.post("/bots", token=admin_token, json={}), ["body", "display_name"])
    assert_validation(
        api.post("/bots", token=admin_token, json={"display_name": "b", "admin": True}),
        ["body", "admin"],
    )
    assert_problem(api.post("/bots", token=admin_token, body="[}"), 400)
    assert_problem(api.patch(f"/bots/{bot['id']}", token=admin_token, json={}), 422)
    assert_validation(
        api.patch(f"/bots/{bot['id']}", token=admin_token, json={"display_name": ""}),
        ["body", "display_name"],
    )
    assert_problem(api.get("/bots", token=admin_token, query={"limit": 101}), 422)
    assert_problem(api.get("/bots", token=admin_token, query={"cursor": "Zm9v"}), 400)

    # wrong callers: bots are the platform admin's business (403 whether or not it exists)
    _, user_token = make_user(api, admin_token)
    _, bot_token = make_bot(api, admin_token, "Nosy bot")
    for token in (user_token, bot_token):
        assert_problem(api.post("/bots", token=token, json={"display_name": "b"}), 403)
        assert_problem(api.get("/bots", token=token), 403)
        for bot_id in (bot["id"], MISSING):
            assert_problem(api.get(f"/bots/{bot_id}", token=token), 403)
            assert_problem(
                api.patch(f"/bots/{bot_id}", token=token, json={"display_name": "b"}), 403
            )
            assert_problem(api.delete(f"/bots/{bot_id}", token=token), 403)
    for method in ("get", "delete"):
        assert_problem(getattr(api, method)(f"/bots/{bot['id']}"), 401)
    assert_problem(api.get("/bots"), 401)

    # missing bot
    assert_problem(api.get(f"/bots/{MISSING}", token=admin_token), 404, "not-found")
    assert_problem(
        api.patch(f"/bots/{MISSING}", token=admin_token, json={"display_name": "b"}), 404
    )
    assert_problem(api.delete(f"/bots/{MISSING}", token=admin_token), 404)

    # DELETE with a stale If-Match: 412; then deleted: gone from reads and lists
    assert_problem(
        api.delete(f"/bots/{bot['id']}", token=admin_token, headers={"If-Match": etag}), 412
    )
    r = api.delete(f"/bots/{bot['id']}", token=admin_token)
    assert (r.status, r.body) == (204, ""), r
    assert_problem(api.get(f"/bots/{bot['id']}", token=admin_token), 404)
    assert_problem(api.delete(f"/bots/{bot['id']}", token=admin_token), 404)
    assert bot["id"] not in {b["id"] for b in list_all(api, admin_token, "/bots")}


def test_bot_tokens(api: Api, admin_token: str) -> None:
    bot, first = make_bot(api, admin_token, "Deployer")
    other_bot, other_bot_token = make_bot(api, admin_token, "Other")
    user, user_token = make_user(api, admin_token)

    r = api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    assert r.status == 201, r
    created = r.json()
    assert set(created) == {"id", "created_token"}, created
    assert r.headers["location"] == f"/bot-tokens/{created['id']}", r
    secret = created["created_token"]

    # a bot token is the bot
    r = api.get("/auth/me", token=secret)
    assert r.status == 200, r
    me = r.json()
    assert (me["kind"], me["id"], me["display_name"], me["is_admin"]) == (
        "bot",
        bot["id"],
        "Deployer",
        False,
    ), me
    assert me.get("email") is None, me
    # and not an admin, nor a user with tokens of its own
    assert_problem(api.get("/users", token=secret), 403)
    assert_problem(api.get("/user-tokens", token=secret), 403)
    assert_problem(api.post("/user-tokens", token=secret, json={"user_id": user["id"]}), 404)

    # read and list, never the secret; last_used_at after use
    r = api.get(f"/bot-tokens/{created['id']}", token=admin_token)
    assert r.status == 200, r
    record = r.json()
    assert (record["id"], record["bot_id"]) == (created["id"], bot["id"]), record
    assert ISO_Z.match(record["created_at"]) and record["last_used_at"], record
    _no_secret(record, secret)
    r = api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    second_id, second = r.json()["id"], r.json()["created_token"]
    listed = list_all(api, admin_token, "/bot-tokens", limit=1, bot_id=bot["id"])
    assert len(listed) == 3 and {created["id"], second_id} < {t["id"] for t in listed}, listed
    assert all(t["bot_id"] == bot["id"] for t in listed)
    _no_secret({"items": listed}, first, secret, second)

    # bad input, missing things
    assert_validation(api.get("/bot-tokens", token=admin_token), ["query", "bot_id"])
    assert_validation(api.post("/bot-tokens", token=admin_token, json={}), ["body", "bot_id"])
    assert_problem(api.post("/bot-tokens", token=admin_token, body="{"), 400)
    assert_problem(api.post("/bot-tokens", token=admin_token, json={"bot_id": MISSING}), 404)
    assert_problem(api.get(f"/bot-tokens/{MISSING}", token=admin_token), 404)
    assert_problem(api.delete(f"/bot-tokens/{MISSING}", token=admin_token), 404)
    # a user token's id is not a bot token's, and the other way round
    user_token_id = api.get("/user-tokens", token=user_token).json()["items"][0]["id"]
    assert_problem(api.get(f"/bot-tokens/{user_token_id}", token=admin_token), 404)
    assert_problem(api.get(f"/user-tokens/{created['id']}", token=admin_token), 404)
    assert_problem(api.delete(f"/user-tokens/{created['id']}", token=admin_token), 404)
    assert api.get("/auth/me", token=secret).status == 200

    # wrong callers: admin only
    for token in (user_token, other_bot_token, secret):
        assert_problem(api.post("/bot-tokens", token=token, json={"bot_id": bot["id"]}), 403)
        assert_problem(api.get("/bot-tokens", token=token, query={"bot_id": bot["id"]}), 403)
        assert_problem(api.get(f"/bot-tokens/{created['id']}", token=token), 403)
        assert_problem(api.delete(f"/bot-tokens/{created['id']}", token=token), 403)
    assert_problem(api.get("/bot-tokens", query={"bot_id": bot["id"]}), 401)
    assert_problem(api.post("/bot-tokens", json={"bot_id": bot["id"]}), 401)

    # DELETE revokes at once
    r = api.delete(f"/bot-tokens/{created['id']}", token=admin_token)
    assert (r.status, r.body) == (204, ""), r
    assert_problem(api.get("/auth/me", token=secret), 401, "unauthorized")
    assert_problem(api.get(f"/bot-tokens/{created['id']}", token=admin_token), 404)
    assert api.get("/auth/me", token=second).status == 200

    # deleting the bot revokes its remaining tokens, and they leave the list
    assert api.delete(f"/bots/{bot['id']}", token=admin_token).status == 204
    assert_problem(api.get("/auth/me", token=second), 401, "unauthorized")
    assert_problem(api.get("/auth/me", token=first), 401, "unauthorized")
    assert_problem(api.get(f"/bot-tokens/{second_id}", token=admin_token), 404)
    r = api.get("/bot-tokens", token=admin_token, query={"bot_id": bot["id"]})
    assert (r.status, r.json()["items"]) == (200, []), r
    assert_problem(api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]}), 404)
    # the other bot is untouched
    assert api.get("/auth/me", token=other_bot_token).json()["id"] == other_bot["id"]


def test_a_tampered_cursor_is_400(api: Api, admin_token: str) -> None:
    """Cursors are opaque, not secret: a client can decode one and edit the key inside.
    Whatever comes back must be refused as a bad cursor (400), never crash the list."""
    user, token = make_user(api, admin_token)
    bot, _ = make_bot(api, admin_token)
    make_bot(api, admin_token)
    api.post("/user-tokens", token=token, json={"user_id": user["id"]})
    api.post("/bot-tokens", token=admin_token, json={"bot_id": bot["id"]})
    lists = [
        (admin_token, "/users", {}),
        (admin_token, "/users", {"is_active": "true"}),
        (admin_token, "/bots", {}),
        (token, "/user-tokens", {}),
        (admin_token, "/bot-tokens", {"bot_id": bot["id"]}),
    ]
    wrong = []
    for who, path, query in lists:
        r = api.get(path, token=who, query={**query, "limit": 1})
        assert r.status == 200 and r.json()["next_cursor"], (path, r)
        for key, forged in tampered_cursors(r.json()["next_cursor"]):
            r = api.get(path, token=who, query={**query, "limit": 1, "cursor": forged})
            if r.status != 400:
                wrong.append((path, query, key, r.status, r.body[:120]))
            else:
                assert_problem(r, 400, "bad-request")
    assert wrong == [], "\n".join(map(str, wrong))
