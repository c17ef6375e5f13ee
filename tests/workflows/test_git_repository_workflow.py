"""A project's Git repository (init_git_repository): the CreateGitRepository step of the
create workflow and DeleteGitRepository of a reclaiming deletion, run as real ASL under
moto with the real step handlers, against the emulated Git provider (local/git_provider.py,
GitHub's REST shape on 127.0.0.1) through the same code path as production
(tenantry/git_provider.py, the token read from Secrets Manager): success, a busy provider
retried, a refusal that fails the project with a readable reason and a retry that then
succeeds, a step run twice, archive or delete on reclaim, nothing on retain.

Contract: API.md "Console extras (Klustr) and Kuzzle extras" (Git repository).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local import git_provider
from tests.harness import Api, wait_until
from tests.workflows.support import Workflow, assert_no_internals


@pytest.fixture
def provider() -> Iterator[git_provider.Provider]:
    with git_provider.Provider(org="acme").serving() as served:
        yield served


@pytest.fixture
def stack_parameters(provider: git_provider.Provider, request: Any) -> dict[str, str]:
    return {**provider.parameters(), **getattr(request, "param", {})}


@pytest.fixture
def git(api: Api, provider: git_provider.Provider) -> git_provider.Provider:
    git_provider.attach(provider, api.stack)
    return provider


def create(workflow: Workflow, pid: str, **extra: Any) -> Any:
    body = {"name": pid.title(), "id": pid, "description": "Shop front", **extra}
    return workflow.api.post("/projects", token=workflow.token, json=body)


def settled(workflow: Workflow, pid: str, working: str = "creating") -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (p := workflow.project(pid))["status"] != working and p, timeout=15
    )
    return found


def conditions(project: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in project["conditions"]}


def test_a_project_gets_its_repository_while_it_provisions(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    r = create(workflow, "shop", init_git_repository=True)
    assert r.status == 202, r
    assert r.json()["init_git_repository"] is True and r.json()["git_repository"] is None
    project = settled(workflow, "shop")
    assert project["status"] == "active", project
    assert project["git_repository"] == {
        "name": "shop",
        "full_name": "acme/shop",
        "html_url": f"{git.url}/acme/shop",
        "clone_url": f"{git.url}/acme/shop.git",
        "archived": False,
    }
    assert conditions(project)["GitRepositoryReady"] == "True"
    assert "git_repository_created" in workflow.events("shop")
    repo = git.repositories["shop"]
    assert repo["private"] is True and repo["description"] == "Shop front"
    assert repo["default_branch"] == "main"  # initialized


def test_a_project_without_a_repository_does_not_call_the_provider(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    assert create(workflow, "plain").status == 202
    project = settled(workflow, "plain")
    assert project["status"] == "active" and project["git_repository"] is None
    assert "GitRepositoryReady" not in conditions(project)
    workflow.delete("plain", reclaim=True)
    assert settled(workflow, "plain", "deleting")["status"] == "deleted"
    assert git.requests == []


def test_a_busy_provider_is_retried(workflow: Workflow, git: git_provider.Provider) -> None:
    git.fail_next("POST", "/orgs/acme/repos", 503, times=2)
    assert create(workflow, "shop", init_git_repository=True).status == 202
    assert settled(workflow, "shop")["status"] == "active"
    assert [m for m, path, _ in git.requests if path == "/orgs/acme/repos"] == ["POST"] * 3


def test_a_refusal_fails_the_project_saying_what_to_do_and_a_retry_succeeds(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    git.fail_next("POST", "/orgs/acme/repos", 403)
    assert create(workflow, "shop", init_git_repository=True).status == 202
    failed = settled(workflow, "shop")
    assert failed["status"] == "failed"
    assert failed["reason"] == (
        "the Git provider refused the request; a platform admin has to check its token and "
        "organization, then retry the project"
    )
    assert_no_internals(failed["reason"])
    assert workflow.action("shop", "retry").status == 202
    project = settled(workflow, "shop")
    assert project["status"] == "active" and project["git_repository"]["full_name"] == "acme/shop"


def test_an_unreadable_token_secret_fails_the_project(api: Api, workflow: Workflow) -> None:
    """No secret stored (the `git` fixture is not used): the step cannot authenticate."""
    assert create(workflow, "shop", init_git_repository=True).status == 202
    failed = settled(workflow, "shop")
    assert failed["status"] == "failed" and "Git provider" in failed["reason"]


def test_a_repository_the_step_already_made_is_found_again(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    """A step whose first run made the repository but did not record it runs again: the
    provider answers "already exists" and the step records the one it finds."""
    git.answer("POST", "/orgs/acme/repos", {"name": "shop", "private": True, "auto_init": True})
    assert create(workflow, "shop", init_git_repository=True).status == 202
    project = settled(workflow, "shop")
    assert project["status"] == "active" and project["git_repository"]["name"] == "shop"
    assert len(git.repositories) == 1


def test_a_reclaiming_deletion_archives_it_and_retain_leaves_it(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    for pid in ("kept", "gone"):
        assert create(workflow, pid, init_git_repository=True).status == 202
        assert settled(workflow, pid)["status"] == "active"
    workflow.delete("kept", reclaim=False)
    workflow.delete("gone", reclaim=True)
    assert settled(workflow, "kept", "deleting")["status"] == "deleted"
    assert settled(workflow, "gone", "deleting")["status"] == "deleted"
    assert git.repositories["kept"]["archived"] is False
    assert git.repositories["gone"]["archived"] is True
    archived = [e for e in workflow.history("gone") if e["event"] == "git_repository_archived"]
    assert archived[0]["detail"] == {"repository": "gone", "existed": True}
    assert "git_repository_archived" not in workflow.events("kept")


@pytest.mark.parametrize("stack_parameters", [{"GitRepositoryOnDelete": "Delete"}], indirect=True)
def test_a_reclaiming_deletion_may_delete_it(
    workflow: Workflow, git: git_provider.Provider
) -> None:
    assert create(workflow, "gone", init_git_repository=True).status == 202
    assert settled(workflow, "gone")["status"] == "active"
    git.fail_next("DELETE", "/repos/acme/gone", 502)  # retried
    workflow.delete("gone", reclaim=True)
    assert settled(workflow, "gone", "deleting")["status"] == "deleted"
    assert "gone" not in git.repositories
    assert "git_repository_deleted" in workflow.events("gone")


def test_a_repository_made_after_a_reclaiming_delete_overtook_it_is_undone(
    workflow: Workflow, git: git_provider.Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DELETE ?reclaim=true lands while the step is at the provider: the repository it
    made is not recorded (the operation is no longer current), and the step archives it
    itself, since the deletion's own step may have run before it existed. (Here the
    deletion's step archives it too: two archive requests, the step's one of them.)"""
    from tenantry import git_provider as adapter

    made = adapter.create_repository

    def then_deleted(project_id: str, description: str = "") -> Any:
        repository = made(project_id, description)
        workflow.delete(project_id, reclaim=True)
        return repository

    monkeypatch.setattr(adapter, "create_repository", then_deleted)
    assert create(workflow, "late", init_git_repository=True).status == 202
    assert settled(workflow, "late")["status"] == "deleting"
    assert settled(workflow, "late", "deleting")["status"] == "deleted"
    workflow.settle()
    assert git.repositories["late"]["archived"] is True
    archives = [b for m, path, b in git.requests if m == "PATCH" and path == "/repos/acme/late"]
    assert archives == [{"archived": True}] * 2, git.requests
    assert "git_repository_created" not in workflow.events("late")
