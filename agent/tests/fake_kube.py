"""A fake Kubernetes API server on 127.0.0.1: the namespace endpoints (and /version), a
namespace's deployer objects and apps/v1 workloads, enough for the real `kubernetes` client
configured to it.

  GET    /version
  GET    /api/v1/namespaces
  POST   /api/v1/namespaces                 409 AlreadyExists when the name is taken
  GET    /api/v1/namespaces/{name}          404 NotFound
  PATCH  /api/v1/namespaces/{name}          merge patch of metadata.labels
  DELETE /api/v1/namespaces/{name}          preconditions.uid honoured (409); with
                                            `terminating=True` the namespace stays, phase
                                            Terminating, until `finish_deletions()`
  POST   /api/v1/namespaces/{ns}/serviceaccounts                          409 when it exists,
  POST   /apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings  404 without the ns
  GET    /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}
  PATCH  /apis/apps/v1/namespaces/{ns}/{deployments|statefulsets}/{name}  JSON merge patch
  POST   /api/v1/namespaces/{ns}/{configmaps|secrets}                     409 when it exists
  GET, PUT, DELETE /api/v1/namespaces/{ns}/{configmaps|secrets}/{name}    PUT: 409 unless
                                            metadata.resourceVersion is the current one;
                                            DELETE: preconditions.uid honoured (409)
The apps, configmaps and secrets routes play RBAC: they answer 403 unless the request
impersonates the namespace's deployer (`Impersonate-User`) and its RoleBinding names it;
`impersonated` records (method, path, user) of every impersonating request.
`add_workload` seeds a workload, `add_object` a ConfigMap or Secret.
Errors are Kubernetes Status objects. `fail_next(n, status)` answers the next n requests
with that status. `requests` records (method, path, body); the bearer tokens seen are kept
in `tokens` to check the configured credentials reach the server.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REASONS = {
    404: "NotFound",
    409: "AlreadyExists",
    403: "Forbidden",
    500: "InternalError",
    503: "ServiceUnavailable",
}

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-fake",
    "gitCommit": "0" * 40,
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def status(code: int, message: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }


class FakeKube:
    def __init__(self, *, terminating: bool = False) -> None:
        self.terminating = terminating
        self.lock = threading.Lock()
        self.namespaces: dict[str, dict[str, Any]] = {}
        # (namespace, resource, name) -> object, for serviceaccounts, rolebindings, workloads
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.impersonated: list[tuple[str, str, str]] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.tokens: set[str] = set()
        self._failures: list[int] = []
        self._rv = 100
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeKube:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_namespace(
        self, name: str, labels: dict[str, str] | None = None, phase: str = "Active"
    ) -> None:
        with self.lock:
            self.namespaces[name] = self._object(name, labels or {}, phase)

    def add_workload(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        resource = {"Deployment": "deployments", "StatefulSet": "statefulsets"}[kind]
        obj = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
                },
            },
        }
        with self.lock:
            self.objects[(namespace, resource, name)] = obj
        return obj

    def add_object(
        self, namespace: str, kind: str, name: str, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        resource = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        with self.lock:
            self._rv += 1
            obj = {
                "apiVersion": "v1",
                "kind": kind,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": str(self._rv),
                    "labels": labels or {},
                },
                "data": {"someone": "else's"},
            }
            self.objects[(namespace, resource, name)] = obj
        return obj

    def object(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        resource = {"ConfigMap": "configmaps", "Secret": "secrets"}[kind]
        with self.lock:
            return self.objects.get((namespace, resource, name))

    def annotations(self, namespace: str, kind: str, name: str) -> dict[str, str]:
        resource = {"Deployment": "deployments", "StatefulSet": "statefulsets"}[kind]
        with self.lock:
            obj = self.objects[(namespace, resource, name)]
            return dict(obj["spec"]["template"]["metadata"].get("annotations") or {})

    def fail_next(self, count: int, code: int = 503) -> None:
        with self.lock:
            self._failures.extend([code] * count)

    def finish_deletions(self) -> None:
        with self.lock:
            for name in [
                n for n, o in self.namespaces.items() if o["status"]["phase"] == "Terminating"
            ]:
                del self.namespaces[name]

    def mutations(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(m, p) for m, p, _ in self.requests if m != "GET"]

    def _object(self, name: str, labels: dict[str, str], phase: str = "Active") -> dict[str, Any]:
        self._rv += 1
        obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(self._rv),
                "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "labels": {"kubernetes.io/metadata.name": name, **labels},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": phase},
        }
        if phase == "Terminating":
            obj["metadata"]["deletionTimestamp"] = obj["metadata"]["creationTimestamp"]
        return obj

    def handle(
        self, method: str, path: str, body: Any, impersonate: str | None = None
    ) -> tuple[int, Any]:
        path = path.split("?", 1)[0]
        with self.lock:
            self.requests.append((method, path, body))
            if impersonate:
                self.impersonated.append((method, path, impersonate))
            if self._failures:
                code = self._failures.pop(0)
                return code, status(code, f"injected failure {code}")
            parts = path.strip("/").split("/")
            routed = self._namespaced(method, parts, body, impersonate)
            if routed is not None:
                return routed
            if path in ("/version", "/version/") and method == "GET":
                return 200, VERSION
            if path == "/api/v1/namespaces":
                if method == "GET":
                    return 200, {
                        "kind": "NamespaceList",
                        "apiVersion": "v1",
                        "metadata": {},
                        "items": list(self.namespaces.values()),
                    }
                if method == "POST":
                    name = (body.get("metadata") or {}).get("name")
                    if not name:
                        return 422, status(422, "name is required", "Invalid")
                    if name in self.namespaces:
                        message = f'namespaces "{name}" already exists'
                        if self.namespaces[name]["status"]["phase"] == "Terminating":
                            message = f'object is being deleted: namespaces "{name}" already exists'
                        return 409, status(409, message)
                    obj = self._object(name, (body.get("metadata") or {}).get("labels") or {})
                    self.namespaces[name] = obj
                    return 201, obj
            prefix = "/api/v1/namespaces/"
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                name = path[len(prefix) :]
                obj = self.namespaces.get(name)
                if obj is None:
                    return 404, status(404, f'namespaces "{name}" not found')
                if method == "GET":
                    return 200, obj
                if method == "PATCH":
                    labels = ((body or {}).get("metadata") or {}).get("labels") or {}
                    for k, v in labels.items():
                        if v is None:
                            obj["metadata"]["labels"].pop(k, None)
                        else:
                            obj["metadata"]["labels"][k] = v
                    return 200, obj
                if method == "DELETE":
                    uid = ((body or {}).get("preconditions") or {}).get("uid")
                    if uid and uid != obj["metadata"]["uid"]:
                        return 409, status(
                            409, "Precondition failed: UID in precondition", "Conflict"
                        )
                    if self.terminating:
                        obj["status"]["phase"] = "Terminating"
                        obj["metadata"]["deletionTimestamp"] = obj["metadata"]["creationTimestamp"]
                    else:
                        del self.namespaces[name]
                    return 200, obj
            return 404, status(
                404, f"the server could not find the requested resource ({method} {path})"
            )

    def _namespaced(
        self, method: str, parts: list[str], body: Any, impersonate: str | None
    ) -> tuple[int, Any] | None:
        """The namespaced routes, or None for the others."""
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) in (5, 6):
            namespace, resource = parts[3], parts[4]
            name = parts[5] if len(parts) == 6 else None
        elif (
            parts[:4] == ["apis", "rbac.authorization.k8s.io", "v1", "namespaces"]
            and len(parts) == 6
        ):
            namespace, resource, name = parts[4], parts[5], None
        elif parts[:4] == ["apis", "apps", "v1", "namespaces"] and len(parts) == 7:
            namespace, resource, name = parts[4], parts[5], parts[6]
        else:
            return None
        if resource in ("serviceaccounts", "rolebindings") and name is None and method == "POST":
            if namespace not in self.namespaces:
                return 404, status(404, f'namespaces "{namespace}" not found')
            name = ((body or {}).get("metadata") or {}).get("name")
            key = (namespace, resource, name)
            if key in self.objects:
                return 409, status(409, f'{resource} "{name}" already exists')
            obj = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
            self.objects[key] = obj
            return 201, obj
        if resource in ("configmaps", "secrets"):
            refused = self._refused(namespace, resource, method, impersonate)
            if refused is not None:
                return refused
            return self._data_object(method, namespace, resource, name, body)
        if resource in ("deployments", "statefulsets") and name and method in ("GET", "PATCH"):
            refused = self._refused(namespace, resource, method, impersonate)
            if refused is not None:
                return refused
            obj = self.objects.get((namespace, resource, name))
            if obj is None:
                return 404, status(404, f'{resource}.apps "{name}" not found')
            if method == "PATCH":
                merged = merge_patch(obj, body)
                self.objects[(namespace, resource, name)] = merged
                return 200, merged
            return 200, obj
        return None

    def _refused(
        self, namespace: str, resource: str, method: str, impersonate: str | None
    ) -> tuple[int, Any] | None:
        """RBAC: only the namespace's deployer, bound to it by its RoleBinding."""
        deployer = f"system:serviceaccount:{namespace}:tenantry-deployer"
        binding = self.objects.get((namespace, "rolebindings", "tenantry-deployer")) or {}
        bound = {
            f"system:serviceaccount:{s.get('namespace')}:{s.get('name')}"
            for s in binding.get("subjects") or []
        }
        if impersonate != deployer or deployer not in bound:
            return 403, status(
                403, f'User "{impersonate or "agent"}" cannot {method.lower()} {resource}'
            )
        return None

    def _data_object(
        self, method: str, namespace: str, resource: str, name: str | None, body: Any
    ) -> tuple[int, Any]:
        """ConfigMaps and Secrets: create, read, replace (at its resourceVersion), delete."""
        kind = resource
        if name is None:
            if method != "POST":
                return 405, status(405, "method not allowed", "MethodNotAllowed")
            name = ((body or {}).get("metadata") or {}).get("name")
            if (namespace, kind, name) in self.objects:
                return 409, status(409, f'{kind} "{name}" already exists')
            self._rv += 1
            obj = {
                **body,
                "metadata": {
                    **body["metadata"],
                    "namespace": namespace,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": str(self._rv),
                },
            }
            self.objects[(namespace, kind, name)] = obj
            return 201, obj
        current = self.objects.get((namespace, kind, name))
        if current is None:
            return 404, status(404, f'{kind} "{name}" not found')
        if method == "GET":
            return 200, current
        if method == "PUT":
            sent = ((body or {}).get("metadata") or {}).get("resourceVersion")
            if sent != current["metadata"]["resourceVersion"]:
                return 409, status(
                    409, f'Operation cannot be fulfilled on {kind} "{name}": modified', "Conflict"
                )
            self._rv += 1
            obj = {
                **body,
                "metadata": {
                    **body["metadata"],
                    "namespace": namespace,
                    "uid": current["metadata"]["uid"],
                    "resourceVersion": str(self._rv),
                },
            }
            self.objects[(namespace, kind, name)] = obj
            return 200, obj
        if method == "DELETE":
            uid = ((body or {}).get("preconditions") or {}).get("uid")
            if uid and uid != current["metadata"]["uid"]:
                return 409, status(409, "Precondition failed: UID in precondition", "Conflict")
            del self.objects[(namespace, kind, name)]
            return 200, status(200, "deleted", "Success")
        return 405, status(405, "method not allowed", "MethodNotAllowed")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization")
                if auth:
                    fake.tokens.add(auth)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                code, payload = fake.handle(
                    self.command, self.path, body, self.headers.get("Impersonate-User")
                )
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        return Handler


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
