"""Replay every checked-in sample event (events/) through its real handler, on the stack
deployed from template.yaml under moto (the `api` fixture), after seeding the state the
samples refer to: the admin with the samples' token, a second admin token, a bot with a
token, and project `demo` owned by the admin.

Every sample is a request that should succeed, so HTTP samples must answer 2xx (GETs 200)
with a well-formed payload 2.0 response; workflow steps must return a JSON result; the
authorizer must resolve the samples' token to exactly the context the HTTP samples carry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from local import sample_events as samples

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

ENTRIES = samples.build()
OPERATION_STATUS = {"create": "creating", "delete": "deleting"}  # what a workflow works on


def _admin() -> Any:
    from tenantry.models.identity import Principal

    return Principal(kind="user", id=samples.admin_user_id(), is_admin=True)


def seed(api: Any, project_status: str) -> None:
    """The samples' world, built through the domain. Ids are pinned to the samples' ones
    by patching the id factory of tenantry.domain.identity around each creation."""
    from tenantry.domain import identity, projects
    from tenantry.models.identity import BotCreate
    from tenantry.models.project import ProjectCreate

    def with_id(new_id: str) -> Any:
        return mock.patch.object(identity, "new_id", return_value=new_id)

    admin = _admin()
    with with_id(samples.ADMIN_TOKEN_ID):
        identity.ensure_admin(samples.TOKEN)
    with with_id(samples.USER_TOKEN_ID):
        identity.create_user_token(admin, admin.id)
    with with_id(samples.BOT_ID):
        identity.create_bot(admin, BotCreate(display_name="ci-deployer"))
    with with_id(samples.BOT_TOKEN_ID):
        identity.create_bot_token(admin, samples.BOT_ID)

    demo = ProjectCreate(
        name="Demo",
        id=samples.PROJECT_ID,
        description="The project the sample events use",
        labels={"team": "platform"},
        environments=["dev", "prod"],
    )
    if project_status == "creating":  # as the create workflow's steps find it
        with mock.patch("tenantry.workflows.start"):
            assert projects.create_project(admin, demo).status == "creating"
        return
    projects.create_project(admin, demo)  # the real create workflow runs
    _assert_executions_succeeded(api)
    _push_image(api)
    assert projects.get_project(admin, samples.PROJECT_ID).status == "active"
    _seed_governance(admin)
    if project_status == "deleting":  # as the delete workflow's steps find it
        with mock.patch("tenantry.workflows.start"):
            projects.delete_project(admin, samples.PROJECT_ID, True, None)
        assert projects.get_project(admin, samples.PROJECT_ID).status == "deleting"


def _seed_governance(admin: Any) -> None:
    """A member (Sam), a user outside the project (Kim) and a pending application."""
    from tenantry.dal import projects as project_store
    from tenantry.domain import applications, identity, memberships
    from tenantry.models.governance import MembershipCreate
    from tenantry.models.identity import UserCreate

    for user_id, email, name in (
        (samples.MEMBER_USER_ID, samples.MEMBER_EMAIL, "Sam"),
        (samples.CANDIDATE_USER_ID, samples.CANDIDATE_EMAIL, "Kim"),
    ):
        with mock.patch.object(identity, "new_id", return_value=user_id):
            identity.create_user(admin, UserCreate(email=email, display_name=name))
    memberships.create(
        admin,
        MembershipCreate(
            project_id=samples.PROJECT_ID, action="enroll", user_id=samples.MEMBER_USER_ID
        ),
    )
    project = project_store.get(samples.PROJECT_ID)
    with mock.patch.object(applications, "new_id", return_value=samples.APPLICATION_ID):
        applications.submit_modify(admin, project, {"max_members": 50}, None)

    from tenantry.domain import invites, orgs, templates
    from tenantry.models.governance import InvitesCreate, OrgCreate, TemplateCreate
    from tenantry.models.identity import Principal

    with mock.patch.object(templates, "new_id", return_value=samples.TEMPLATE_ID):
        templates.create(admin, TemplateCreate(name="Standard", environments=["dev"]))
    with mock.patch.object(orgs, "new_id", return_value=samples.ORG_ID):
        orgs.create(admin, OrgCreate(name="Platform"))
    kim = Principal(kind="user", id=samples.CANDIDATE_USER_ID)
    kim_org = orgs.create(kim, OrgCreate(name="Kim's guild"))
    with mock.patch.object(invites, "new_id", return_value=samples.INVITE_ID):
        invites.create(
            kim, "org", kim_org.id, InvitesCreate(emails=[identity.ADMIN_EMAIL], roles=["member"])
        )


def _push_image(api: Any) -> None:
    from tenantry import registry

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1470,
            "digest": "sha256:" + "1" * 64,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 3208942,
                "digest": "sha256:" + "2" * 64,
            }
        ],
    }
    api.stack.client("ecr").put_image(
        repositoryName=registry.repository_name(samples.PROJECT_ID),
        imageManifest=json.dumps(manifest),
        imageTag="v1.0.0",
    )


def _assert_executions_succeeded(api: Any) -> None:
    executions = api.wait_for_executions()
    failed = [e for e in executions if e["status"] != "SUCCEEDED"]
    assert not failed, failed


def _status_for(entry: samples.Entry) -> str:
    if entry.kind == "step":
        return OPERATION_STATUS[entry.event["operation"]]
    return "active"


def _assert_http_response(entry: samples.Entry, result: Any) -> dict[str, Any] | None:
    """A well-formed payload 2.0 response; returns the JSON body (None when empty)."""
    assert isinstance(result, dict), result
    status = result.get("statusCode")
    assert isinstance(status, int), result
    assert status != 500, result
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    assert not result.get("isBase64Encoded"), result
    body = result.get("body") or ""
    assert isinstance(body, str), result
    parsed = json.loads(body) if body else None
    if status >= 400:
        assert headers.get("content-type") == "application/problem+json", result
        assert isinstance(parsed, dict), result
        assert parsed["status"] == status, result
        assert {"type", "title", "detail"} <= parsed.keys(), result
    elif status != 204:
        assert headers.get("content-type", "").startswith("application/json"), result
        assert parsed is not None, result
    return parsed


@pytest.mark.parametrize("rel", sorted(ENTRIES), ids=lambda p: p.as_posix())
def test_sample_event_is_handled(api: Any, rel: Path) -> None:
    entry = ENTRIES[rel]
    path = samples.EVENTS_DIR / rel
    assert path.is_file(), f"{path} is missing: run `python -m local.sample_events`"
    event = json.loads(path.read_text())
    seed(api, _status_for(entry))

    result = api.invoke(entry.function, event)

    if entry.kind == "authorizer":
        assert result == {"isAuthorized": True, "context": samples.authorizer_context()}
    elif entry.kind == "step":
        assert isinstance(result, dict), result
        json.dumps(result)
        if "error" in event:  # a Catch target: the project is failed with a readable reason
            from tenantry.domain import projects

            project = projects.get_project(_admin(), samples.PROJECT_ID)
            assert project.status == "failed", project
            assert project.reason and project.reason.startswith("the image registry refused")
    else:
        assert entry.route is not None
        body = _assert_http_response(entry, result)
        status = result["statusCode"]
        assert 200 <= status < 300, f"{entry.route.key}: {result}"
        if entry.route.method == "GET":
            assert status == 200, result
            assert body is not None
            if "items" in body:  # the seed gives every list something to return
                assert body["items"], f"{entry.route.key}: empty list {result}"
        _assert_executions_succeeded(api)  # create/delete samples start a real workflow
        if status == 204:
            assert not result.get("body"), f"{entry.route.key}: a 204 carries no body"


def test_http_samples_carry_what_the_authorizer_returns(api: Any) -> None:
    """The context in the HTTP samples is what the real authorizer resolves their token to."""
    seed(api, "active")
    authorizer = next(e for e in ENTRIES.values() if e.kind == "authorizer")
    for rel, entry in ENTRIES.items():
        if entry.kind != "http" or entry.route is None or entry.route.authorizer is None:
            continue
        event = json.loads((samples.EVENTS_DIR / rel).read_text())
        request = {**authorizer.event, "headers": event["headers"]}
        decision = api.invoke(authorizer.function, request)
        assert decision["context"] == event["requestContext"]["authorizer"]["lambda"], rel
