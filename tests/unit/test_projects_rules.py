import pytest

from tenantry.auth import bearer_token, hash_token, new_token_secret
from tenantry.domain.projects import derive_id
from tenantry.domain.provisioning import environment_id, failure_reason
from tenantry.errors import Unprocessable
from tenantry.models.project import ProjectCreate


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Payments API", "payments-api"),
        ("  web--shop  ", "web-shop"),
        ("42 things", "p-42-things"),
        ("x" * 60, "x" * 40),
    ],
)
def test_derive_id(name, expected):
    assert derive_id(name) == expected


@pytest.mark.parametrize("name", ["Проект", "ab", "!!"])
def test_derive_id_refuses_what_it_cannot_make_a_dns_label(name):
    with pytest.raises(Unprocessable):
        derive_id(name)


@pytest.mark.parametrize("pid", ["ab", "1abc", "Abc", "abc-", "a" * 41, "ab_c"])
def test_explicit_ids_must_be_dns_labels(pid):
    with pytest.raises(ValueError):
        ProjectCreate(name="x", id=pid)


def test_environments_must_be_unique():
    with pytest.raises(ValueError):
        ProjectCreate(name="x", environments=["dev", "dev"])


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError):
        ProjectCreate(name="x", colour="blue")


def test_failure_reason_is_a_sentence_whatever_the_cause():
    error = {
        "Error": "RegistryError",
        "Cause": '{"errorMessage": "create image repository: AccessDenied", "errorType": "RegistryError"}',
    }
    reason = failure_reason(error)
    assert reason.startswith("the image registry refused the request")
    assert "AccessDenied" not in reason and "RegistryError" not in reason
    assert failure_reason({"Error": "States.Timeout", "Cause": ""}) == (
        "a provisioning step took too long; retry the project"
    )
    assert failure_reason(None)


def test_environment_ids_are_deterministic():
    assert environment_id("p", "dev") == environment_id("p", "dev") != environment_id("p", "prod")


def test_tokens():
    secret = new_token_secret()
    assert secret.startswith("tnt_") and len(secret) > 40
    assert hash_token(secret) != secret and len(hash_token(secret)) == 64
    assert bearer_token(f"Bearer {secret}") == secret
    assert bearer_token(f"bearer {secret}") == secret
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
