"""Secrets of an environment (API.md, "Secrets"): metadata through the API, contents
write-only. The contents are in no response, no item of any table (history and
idempotency records included, nor a hash of them), no log line; the table holds them
sealed under the stack's KMS key, and only decrypt_secret (the agent's) opens them."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets as random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.harness import Api
from tests.integration.helpers import (
    assert_problem,
    assert_validation,
    create_active,
    list_all,
    make_bot,
    make_user,
)

Wait = Callable[..., Any]


def plaintext() -> str:
    """Contents no test could find by accident."""
    return f"pw-{random.token_hex(12)}"


@dataclass
class Env:
    api: Api
    admin: str
    owner: str
    pid: str
    env_id: str
    member: str  # a project member without a permission on the environment
    user: str  # a member with User on it
    env_admin: str  # a member with Admin on it
    outsider: str

    @property
    def secrets(self) -> str:
        return f"/projects/{self.pid}/environments/{self.env_id}/secrets"

    def create(self, token: str | None = None, **body: Any) -> dict[str, Any]:
        body = {"collection": "db", "name": "password", "contents": plaintext(), **body}
        r = self.api.post(self.secrets, token=token or self.env_admin, json=body)
        assert r.status == 201, r
        return dict(r.json())

    def listed(self, **query: Any) -> list[dict[str, Any]]:
        return list_all(self.api, self.owner, self.secrets, **query)


@pytest.fixture
def env(api: Api, admin_token: str, wait_until: Wait) -> Env:
    _, owner = make_user(api, admin_token, "Owner")
    project = create_active(
        api, owner, wait_until, name="Vault", environments=["dev"], join_policy="auto"
    )
    pid = project["id"]
    tokens, ids = {}, {}
    for kind in ("member", "user", "env_admin", "outsider"):
        user, tokens[kind] = make_user(api, admin_token, kind)
        ids[kind] = user["id"]
        if kind != "outsider":
            r = api.post(
                "/memberships", token=tokens[kind], json={"project_id": pid, "action": "join"}
            )
            assert r.status == 201, r
    (dev,) = list_all(api, owner, f"/projects/{pid}/environments")
    for kind, role in (("user", "User"), ("env_admin", "Admin")):
        r = api.post(
            f"/projects/{pid}/environments/{dev['id']}/permissions",
            token=owner,
            json={"user_id": ids[kind], "role": role},
        )
        assert r.status == 201, r
    return Env(api, admin_token, owner, pid, dev["id"], **tokens)


FIELDS = {"id", "project_id", "env_id", "collection", "name", "created_at", "updated_at", "version"}


def test_create_read_list_update_delete(env: Env) -> None:
    contents = plaintext()
    r = env.api.post(
        env.secrets,
        token=env.env_admin,
        json={"collection": "db", "name": "password", "contents": contents},
    )
    assert r.status == 201, r
    secret = r.json()
    assert set(secret) == FIELDS, secret
    assert (secret["project_id"], secret["env_id"], secret["version"]) == (env.pid, env.env_id, 1)
    assert r.headers["location"] == f"{env.secrets}/{secret['id']}"
    assert r.headers["etag"] == '"1"'
    for token in (env.owner, env.user, env.env_admin, env.admin):
        r = env.api.get(f"{env.secrets}/{secret['id']}", token=token)
        assert r.status == 200 and r.json() == secret, r
        assert [s["id"] for s in list_all(env.api, token, env.secrets)] == [secret["id"]]

    r = env.api.patch(
        f"{env.secrets}/{secret['id']}",
        token=env.env_admin,
        json={"name": "pw", "contents": plaintext()},
        headers={"If-Match": '"1"'},
    )
    assert r.status == 200, r
    changed = r.json()
    assert (changed["name"], changed["version"], r.headers["etag"]) == ("pw", 2, '"2"')
    assert changed["updated_at"] > secret["updated_at"]
    r = env.api.patch(
        f"{env.secrets}/{secret['id']}",
        token=env.env_admin,
        json={"contents": "x"},
        headers={"If-Match": '"1"'},
    )
    assert_problem(r, 412, "precondition-failed")
    # the old name is free again, the new one is taken
    env.create(name="password")
    r = env.api.post(
        env.secrets, token=env.env_admin, json={"collection": "db", "name": "pw", "contents": "v"}
    )
    assert_problem(r, 409, "conflict")
    assert env.create(collection="cache", name="pw")["collection"] == "cache"

    r = env.api.delete(f"{env.secrets}/{secret['id']}", token=env.env_admin)
    assert r.status == 204 and r.body == "", r
    assert_problem(env.api.get(f"{env.secrets}/{secret['id']}", token=env.owner), 404, "not-found")
    assert_problem(
        env.api.delete(f"{env.secrets}/{secret['id']}", token=env.owner), 404, "not-found"
    )
    events = [
        e
        for e in list_all(env.api, env.owner, f"/projects/{env.pid}/history")
        if "secret" in e["event"]
    ]
    assert [e["event"] for e in events] == [
        "secret_created",
        "secret_updated",
        "secret_created",
        "secret_created",
        "secret_deleted",
    ]
    assert events[1]["detail"] == {
        "env_id": env.env_id,
        "env_name": "dev",
        "secret_id": secret["id"],
        "collection": "db",
        "name": "pw",
        "fields": ["contents", "name"],
        "renamed_from": "password",
    }


def test_filters_by_collection_and_name(env: Env) -> None:
    made = {
        (c, n): env.create(collection=c, name=n)["id"]
        for c in ("db", "cache")
        for n in ("user", "password")
    }
    assert {s["id"] for s in env.listed(collection="db")} == {
        made["db", "user"],
        made["db", "password"],
    }
    assert {s["id"] for s in env.listed(name="user")} == {made["db", "user"], made["cache", "user"]}
    assert [s["id"] for s in env.listed(collection="cache", name="password")] == [
        made["cache", "password"]
    ]
    assert env.listed(collection="nothing") == []
    r = env.api.get(env.secrets, token=env.owner, query={"limit": 1, "collection": "db"})
    cursor = r.json()["next_cursor"]
    r = env.api.get(env.secrets, token=env.owner, query={"cursor": cursor, "collection": "cache"})
    assert_problem(r, 400, "bad-request", loc=["query", "cursor"])


def test_who_reads_and_who_writes(env: Env) -> None:
    secret = env.create()
    path = f"{env.secrets}/{secret['id']}"
    body = {"collection": "x", "name": "y", "contents": "z"}
    for token in (env.member, env.user):  # a member without a role on it; its User
        r = env.api.post(env.secrets, token=token, json=body)
        assert_problem(r, 403, "forbidden")
        assert_problem(env.api.patch(path, token=token, json={"contents": "z"}), 403, "forbidden")
        assert_problem(env.api.delete(path, token=token), 403, "forbidden")
    assert_problem(env.api.get(env.secrets, token=env.member), 403, "forbidden")
    assert_problem(env.api.get(path, token=env.member), 403, "forbidden")
    assert env.api.get(path, token=env.user).status == 200
    for r in (
        env.api.get(env.secrets, token=env.outsider),
        env.api.get(path, token=env.outsider),
        env.api.post(env.secrets, token=env.outsider, json=body),
        env.api.delete(path, token=env.outsider),
    ):
        assert_problem(r, 404, "not-found")
    _, bot_token = make_bot(env.api, env.admin)
    assert_problem(env.api.get(path, token=bot_token), 404, "not-found")
    for token in (env.owner, env.admin):  # managers write without a permission
        assert env.create(token, name=f"by-{random.token_hex(3)}")["version"] == 1


def test_missing_things_are_404(env: Env) -> None:
    missing_env = f"/projects/{env.pid}/environments/no-such-env/secrets"
    assert_problem(env.api.get(missing_env, token=env.owner), 404, "not-found")
    r = env.api.post(
        missing_env, token=env.owner, json={"collection": "c", "name": "n", "contents": "v"}
    )
    assert_problem(r, 404, "not-found")
    for r in (
        env.api.get(f"{env.secrets}/no-such-secret", token=env.owner),
        env.api.patch(f"{env.secrets}/no-such-secret", token=env.owner, json={"contents": "v"}),
        env.api.delete(f"{env.secrets}/no-such-secret", token=env.owner),
    ):
        assert_problem(r, 404, "not-found")


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"name": "n", "contents": "v"}, ["body", "collection"]),
        ({"collection": "Upper", "name": "n", "contents": "v"}, ["body", "collection"]),
        ({"collection": "c", "name": "a/b", "contents": "v"}, ["body", "name"]),
        ({"collection": "c", "name": "a#b", "contents": "v"}, ["body", "name"]),
        ({"collection": "c", "name": "n"}, ["body", "contents"]),
        ({"collection": "c", "name": "n", "contents": 7}, ["body", "contents"]),
        ({"collection": "c", "name": "n", "contents": None}, ["body", "contents"]),
        ({"collection": "c", "name": "n", "contents": "v" * 65537}, ["body", "contents"]),
        ({"collection": "c", "name": "n", "contents": "v", "hash": "x"}, ["body", "hash"]),
    ],
)
def test_bad_bodies_are_422(env: Env, body: Any, loc: list[Any]) -> None:
    r = env.api.post(env.secrets, token=env.owner, json=body)
    problem = assert_validation(r, loc)
    assert "v" * 100 not in r.body  # a problem names the field, never echoes the value
    assert all(set(e) == {"loc", "msg"} for e in problem["errors"]), problem
    assert env.listed() == []


def test_bad_patches_are_422(env: Env) -> None:
    path = f"{env.secrets}/{env.create()['id']}"
    for body, loc in (
        ({}, ["body"]),
        ({"collection": "other"}, ["body", "collection"]),
        ({"contents": None}, ["body", "contents"]),
        ({"name": ""}, ["body", "name"]),
    ):
        assert_validation(env.api.patch(path, token=env.owner, json=body), loc)


# --- contents: write-only -------------------------------------------------------------------


def _all_items(api: Api) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every item of every table of the stack (a Scan: this is a test)."""
    ddb = api.stack.client("dynamodb")
    for table in api.stack.table_names().values():
        kwargs: dict[str, Any] = {"TableName": table}
        while True:
            page = ddb.scan(**kwargs)
            for item in page["Items"]:
                yield table, item
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _leaves(value: Any) -> Iterator[bytes]:
    """Every string, number and binary in a low-level DynamoDB item, as bytes."""
    if isinstance(value, dict):
        for kind, inner in value.items():
            if kind == "B":
                yield inner if isinstance(inner, bytes) else bytes(inner)
            elif kind in ("S", "N"):
                yield str(inner).encode()
            else:
                yield from _leaves(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _leaves(inner)


def _traces(contents: str) -> list[bytes]:
    """The contents and what could stand for them: base64, hex, and common digests."""
    raw = contents.encode()
    forms = [raw, base64.b64encode(raw), raw.hex().encode()]
    for algo in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(algo, raw)
        forms += [digest.hexdigest().encode(), digest.digest(), base64.b64encode(digest.digest())]
    return forms


def test_no_table_holds_the_contents_or_anything_derived_from_them(env: Env) -> None:
    written: list[str] = []

    def contents() -> str:
        written.append(plaintext())
        return written[-1]

    first = env.create(contents=contents())
    headers = {"Idempotency-Key": "secret-once"}
    body = {"collection": "db", "name": "user", "contents": contents()}
    r1 = env.api.post(env.secrets, token=env.env_admin, json=body, headers=headers)
    r2 = env.api.post(env.secrets, token=env.env_admin, json=body, headers=headers)
    assert (r1.status, r2.status) == (201, 201) and r1.json() == r2.json()
    env.api.patch(
        f"{env.secrets}/{first['id']}", token=env.env_admin, json={"contents": contents()}
    )
    r = env.api.post(  # refused (taken): its contents are still never written
        env.secrets,
        token=env.env_admin,
        json={"collection": "db", "name": "user", "contents": contents()},
    )
    assert r.status == 409, r
    deleted = env.create(name="gone", contents=contents())
    env.api.delete(f"{env.secrets}/{deleted['id']}", token=env.env_admin)

    items = list(_all_items(env.api))
    assert any(i.get("entity", {}).get("S") == "secret" for _, i in items)
    assert any("idempotency" in t.lower() for t, _ in items), "the idempotency table was read"
    for text in written:
        traces = _traces(text)
        for table, item in items:
            for leaf in _leaves(item):
                assert not any(t in leaf for t in traces), (table, item)


def test_responses_never_carry_the_contents(env: Env) -> None:
    text = plaintext()
    secret = env.create(contents=text)
    path = f"{env.secrets}/{secret['id']}"
    answers = [
        env.api.get(path, token=env.owner),
        env.api.get(env.secrets, token=env.owner),
        env.api.patch(path, token=env.owner, json={"contents": text}),
        env.api.get(f"/projects/{env.pid}/history", token=env.owner, query={"limit": 100}),
        env.api.post(
            env.secrets,
            token=env.owner,
            json={"collection": "db", "name": "password", "contents": text},
        ),
    ]
    for r in answers:
        assert text not in r.body, r


def test_the_agent_opens_the_latest_contents_and_only_where_they_were_sealed(env: Env) -> None:
    from botocore.exceptions import ClientError

    from tenantry import secrets_crypto
    from tenantry.dal import secrets as store

    old, new = plaintext(), plaintext()
    secret = env.create(contents=old)
    other = env.create(name="other")
    env.api.patch(f"{env.secrets}/{secret['id']}", token=env.owner, json={"contents": new})
    item = store.get(env.pid, env.env_id, secret["id"])
    assert item is not None
    assert secrets_crypto.decrypt_secret(item) == new
    assert item["sealed"]["alg"] == "AES-256-GCM"
    assert item["sealed"]["key_id"].startswith("arn:aws:kms:")
    # sealed contents moved onto another secret (another encryption context) do not open
    moved = {**item, "id": other["id"]}
    with pytest.raises(ClientError, match="InvalidCiphertext"):
        secrets_crypto.decrypt_secret(moved)
    # nor does a changed ciphertext (GCM's tag)
    from cryptography.exceptions import InvalidTag

    sealed = dict(item["sealed"])
    ciphertext = bytearray(bytes(sealed["ciphertext"]))
    ciphertext[0] ^= 1
    with pytest.raises(InvalidTag):
        secrets_crypto.decrypt_secret(
            {**item, "sealed": {**sealed, "ciphertext": bytes(ciphertext)}}
        )


def test_kms_under_moto_checks_the_encryption_context(env: Env) -> None:
    """What secrets_crypto relies on, verified on the emulated key the stack created from
    template.yaml (local/kms_keys.py): a data key made under a context opens only with it."""
    from tenantry.settings import get_settings

    kms = env.api.stack.client("kms")
    key_id = get_settings().secrets_key_id
    assert key_id == "alias/tenantry-local/SecretsKey"
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=described["KeyId"])["KeyRotationEnabled"] is True
    context = {"tenantry:project_id": "p", "tenantry:env_id": "e", "tenantry:secret_id": "s"}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    assert len(data_key["Plaintext"]) == 32
    opened = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    assert opened["Plaintext"] == data_key["Plaintext"]
    for wrong in ({**context, "tenantry:secret_id": "t"}, {}):
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=wrong)


def test_no_log_line_holds_the_contents(
    env: Env,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every logger at DEBUG (the app's, botocore's, and Powertools' own, as
    POWERTOOLS_DEBUG would turn it on), across creates, replays, updates, refusals and bad
    input."""
    from tenantry.observability import logger

    texts = [plaintext() for _ in range(5)]
    level = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(logging.getLogger("aws_lambda_powertools"), "propagate", True)
    try:
        headers = {"Idempotency-Key": "logged"}
        body = {"collection": "db", "name": "password", "contents": texts[0]}
        env.api.post(env.secrets, token=env.env_admin, json=body, headers=headers)
        env.api.post(env.secrets, token=env.env_admin, json=body, headers=headers)
        (secret,) = env.listed()
        path = f"{env.secrets}/{secret['id']}"
        env.api.patch(path, token=env.env_admin, json={"contents": texts[1]})
        env.api.post(env.secrets, token=env.env_admin, json={**body, "contents": texts[2]})  # 409
        env.api.post(env.secrets, token=env.user, json={**body, "contents": texts[3]})  # 403
        too_long = texts[4] * 3000
        r = env.api.post(env.secrets, token=env.env_admin, json={**body, "contents": too_long})
        assert r.status == 422, r
    finally:
        logger.setLevel(level)
    captured = capfd.readouterr()
    logged = caplog.text + captured.out + captured.err
    # the capture saw the route's arguments logged (Powertools, at DEBUG): the body model
    # is there, its contents masked by pydantic's SecretStr
    assert "Calling API Route Handler" in caplog.text
    assert "SecretStr('**********')" in caplog.text
    for text in texts:
        assert text not in logged
