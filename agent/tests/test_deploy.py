"""The install manifest and the image: least-privilege RBAC, the admission policy that bounds
it to project namespaces, a locked-down pod, a pinned helm."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantry_agent.kube import DEPLOYER, DEPLOYER_ROLE
from tenantry_agent.loop import RELEASE_TIMEOUT, Agent

AGENT = Path(__file__).resolve().parents[1]
MANIFEST = AGENT / "deploy" / "tenantry-agent.yaml"
DOCKERFILE = AGENT / "Dockerfile"


@pytest.fixture(scope="module")
def docs() -> dict[str, dict[str, Any]]:
    loaded = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    by_kind = {d["kind"]: d for d in loaded}
    assert len(by_kind) == len(loaded), "one object of each kind"
    return by_kind


def walk(value: Any):
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    else:
        yield value


def test_the_manifest_has_what_an_install_needs(docs):
    assert sorted(docs) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ]
    assert "Secret" not in docs  # the token is never in the repository
    assert "Role" not in docs and "RoleBinding" not in docs
    policy = docs["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress"] and "ingress" not in policy  # no one connects in


def test_rbac_is_exactly_namespaces_and_their_deployers(docs):
    role = docs["ClusterRole"]
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "verbs": ["get", "create", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["create"]},
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["rolebindings"],
            "verbs": ["create"],
        },
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": [DEPLOYER_ROLE],
        },
        {
            "apiGroups": [""],
            "resources": ["serviceaccounts"],
            "verbs": ["impersonate"],
            "resourceNames": [DEPLOYER],
        },
    ]
    assert "*" not in list(walk(role))
    assert "aggregationRule" not in role
    binding = docs["ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    sa = docs["ServiceAccount"]["metadata"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}
    ]


def test_the_verbs_are_the_ones_the_kube_executor_calls():
    source = (AGENT / "tenantry_agent" / "kube.py").read_text()
    called = set(re.findall(r"self\._core\.(\w+)_namespace\(", source))
    assert called == {"read", "create", "patch", "delete"}  # read is the verb get
    # the agent's own account creates the deployer's objects, and nothing else, in a namespace
    namespaced = re.findall(r"(partial\()?self\._core\.(\w+)_namespaced_(\w+)", source)
    assert {(verb, what) for bound, verb, what in namespaced if not bound} == {
        ("create", "service_account")
    }
    assert set(re.findall(r"self\._rbac\.(\w+)_namespaced_(\w+)", source)) == {
        ("create", "role_binding")
    }
    # deployment resources' ConfigMaps and Secrets: only bound to the deployer's identity
    bound = re.findall(
        r"partial\(self\._core\.(\w+)_namespaced_(\w+), _headers=as_deployer\)", source
    )
    assert {(verb, what) for bound_, verb, what in namespaced if bound_} == set(bound)
    assert {what for _, what in bound} == {"secret", "config_map"}
    # workloads are read and patched only as the deployer (impersonation); one identity each
    assert "self._apps." in source and source.count('"Impersonate-User"') == 2
    assert source.count('{"Impersonate-User": deployer_user(') == 2
    helm = (AGENT / "tenantry_agent" / "helm.py").read_text()
    assert '"--kube-as-user", deployer_user(release.namespace)' in helm


def test_the_admission_policy_bounds_the_agent_to_project_namespaces(docs):
    policy, binding = docs["ValidatingAdmissionPolicy"], docs["ValidatingAdmissionPolicyBinding"]
    sa = docs["ServiceAccount"]["metadata"]
    assert policy["apiVersion"] == binding["apiVersion"] == "admissionregistration.k8s.io/v1"
    spec = policy["spec"]
    assert spec["failurePolicy"] == "Fail"
    (condition,) = spec["matchConditions"]
    assert condition["expression"] == (
        f"request.userInfo.username == 'system:serviceaccount:{sa['namespace']}:{sa['name']}'"
    )
    matched = {
        (group, resource)
        for rule in spec["matchConstraints"]["resourceRules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    # everything the agent's own account may write (the ClusterRole's create/patch/delete)
    written = {
        (group, resource)
        for rule in docs["ClusterRole"]["rules"]
        if {"create", "patch", "delete"} & set(rule["verbs"])
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert written <= matched
    expressions = " ".join(v["expression"] for v in spec["validations"])
    assert expressions.count("'tenantry.io/project' in") == 3
    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }


def test_the_pod_is_locked_down(docs):
    deployment = docs["Deployment"]
    namespace = docs["Namespace"]["metadata"]["name"]
    assert deployment["metadata"]["namespace"] == namespace
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    assert container["args"] == ["--in-cluster"]
    # grace: the pod outlives the agent's own grace period
    config = docs["ConfigMap"]["data"]
    cancel_wait = inspect.signature(Agent).parameters["cancel_wait_seconds"].default
    grace = float(config["TENANTRY_AGENT_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] >= grace + RELEASE_TIMEOUT + cancel_wait + 3
    assert pod["securityContext"]["runAsUser"] == dockerfile_uid()


def test_the_token_comes_from_a_secret_file_readable_only_by_the_agent(docs):
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert "TENANTRY_AGENT_TOKEN" not in env
    token_path = env["TENANTRY_AGENT_TOKEN_FILE"]["value"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["token"]["readOnly"] is True
    assert token_path == f"{mounts['token']['mountPath']}/token"
    secret = volumes["token"]["secret"]
    assert secret["secretName"] == "tenantry-agent-token"
    assert secret["items"] == [{"key": "token", "path": "token"}]
    assert secret["defaultMode"] == 0o440 and pod["securityContext"]["fsGroup"] == dockerfile_uid()
    assert "TENANTRY_URL" in docs["ConfigMap"]["data"]


def dockerfile_uid() -> int:
    (user,) = re.findall(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.M)
    assert user[0] == user[1]
    return int(user[0])


def test_the_image_runs_the_console_command_as_a_non_root_user():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert dockerfile_uid() != 0
    assert 'ENTRYPOINT ["tenantry-agent"]' in text
    assert "pip install -r requirements.txt" in text


def test_the_image_has_a_pinned_and_verified_helm():
    text = DOCKERFILE.read_text()
    (version,) = re.findall(r"^ARG HELM_VERSION=(v\d+\.\d+\.\d+)$", text, re.M)
    assert version.startswith("v3.")  # --atomic (helm 4 renamed it)
    sums = dict(re.findall(r"^ARG HELM_SHA256_(AMD64|ARM64)=([0-9a-f]{64})$", text, re.M))
    assert set(sums) == {"AMD64", "ARM64"}
    assert "https://get.helm.sh/helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" in text
    assert 'echo "$sha  /tmp/helm.tar.gz" | sha256sum -c -' in text
    assert "COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm" in text


def test_helm_can_write_its_homes_on_a_read_only_root(docs):
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    tmp = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}["tmp"]
    for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert env[name].startswith(tmp + "/")
    assert "HELM_TIMEOUT" in " ".join(docs["ConfigMap"]["data"])
