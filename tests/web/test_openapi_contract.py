"""The HTTP API against its OpenAPI description, on a real gateway process and real servers.

* the document is served at ``GET /api/v1/openapi.json`` and describes every route;
* every ``/api/v1/*`` operation answers 401 without a token and 403 to the roles the document
  does not list in ``x-peaceland-roles``, as documented;
* schemathesis generates requests for every operation (but the SSE stream's endless body) and
  checks each answer: no server error, a documented status, content type, body and headers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from peaceland.access.roles import ROUTES
from peaceland.servers import free_port
from peaceland.testing import component
from peaceland.web.openapi_api import OPENAPI_FILE, OPENAPI_ROUTE, load_openapi

pytestmark = pytest.mark.slow

ROLES = ("drone", "viewer", "dispatcher", "admin")
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics"}
SSE = ("GET", "/api/v1/alerts/stream")
#: Generated requests per operation.
EXAMPLES = 40
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


class Gateway:
    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        self.http = requests.Session()

    def headers(self, role: str | None) -> dict[str, str]:
        """Every call of these tests goes through here: the role's bearer token, if any."""
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    def request(self, method: str, path: str, role: str | None, **kwargs: Any) -> requests.Response:
        return self.http.request(
            method, self.url + path, headers=self.headers(role), timeout=30, **kwargs
        )


def role_tokens(stack: Any) -> dict[str, str]:
    return {role: stack.token(role) for role in ROLES}


@pytest.fixture
def gateway(fresh_stack: Any) -> Iterator[Gateway]:
    """``peaceland gateway`` in its own process, rate limit off (it is not under test)."""
    port = free_port()
    gw = Gateway(f"http://127.0.0.1:{port}", role_tokens(fresh_stack))
    process = component(
        ["gateway"],
        fresh_stack.data_dir,
        PEACELAND_HTTP_PORT=str(port),
        PEACELAND_RATE_LIMIT_PER_S="0",
        PEACELAND_LOG_LEVEL="ERROR",
    )
    with process as proc, contextlib.closing(gw.http):
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if gw.request("GET", "/readyz", None).status_code == 200:
                    break
            assert proc.poll() is None, "the gateway exited"
            assert time.monotonic() < deadline, "the gateway never became ready"
            time.sleep(0.2)
        yield gw


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def concrete(path: str) -> str:
    """A path with its parameters filled in (with names that exist nowhere)."""
    return path.replace("{incident_id}", "0123456789abcdef-1").replace("{name}", "no-such-thing")


def test_the_document_is_served_and_describes_every_route(gateway: Gateway) -> None:
    document = load_openapi()
    assert document["openapi"].startswith("3.")
    served = gateway.request("GET", OPENAPI_ROUTE, "viewer")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/json")
    assert served.content == OPENAPI_FILE.read_bytes()
    described = {(method, path) for method, path, _ in operations(document)}
    assert described == set(ROUTES) | {("GET", path) for path in PUBLIC_PATHS}
    for method, path, operation in operations(document):
        assert operation["responses"], (method, path)
        if path.startswith("/api/v1/") and operation["x-peaceland-roles"] != ["public"]:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_every_api_route_needs_a_token_and_the_documented_role(gateway: Gateway) -> None:
    document = load_openapi()
    assert set(gateway.tokens) == set(ROLES)
    seen: list[tuple[str, str, str | None, int]] = []
    for method, path, operation in operations(document):
        roles = operation["x-peaceland-roles"]
        if roles == ["public"]:
            continue
        url = concrete(path)
        answer = gateway.request(method, url, None, json={})
        assert answer.status_code == 401, (method, path)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.json()["error"]
        for role in ROLES:
            if (method, path) == SSE and role in roles:
                with gateway.request(method, url, role, stream=True) as streaming:
                    status = streaming.status_code
            else:
                status = gateway.request(method, url, role, json={}).status_code
            seen.append((method, path, role, status))
            if role in roles:
                assert status not in (401, 403), (method, path, role, status)
                assert str(status) in operation["responses"], (method, path, role, status)
            else:
                assert status == 403, (method, path, role, status)
    assert len(seen) == 4 * len([o for o in operations(document) if o[2]["security"]])


def test_an_unknown_token_is_refused(gateway: Gateway) -> None:
    answer = gateway.http.get(
        gateway.url + "/api/v1/alerts",
        headers={"Authorization": "Bearer plt_not-a-token"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json()["error"]


def conformance_check(
    operation: Any, base_url: str, headers: dict[str, str], ran: dict[str, int], name: str
) -> Callable[[], None]:
    """A hypothesis test calling one operation with generated requests."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        ran[name] += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    return check


def test_generated_requests_conform_to_the_document(gateway: Gateway) -> None:
    """Schemathesis over every operation; every failure is collected, then reported at once."""
    schema = schemathesis.openapi.from_dict(load_openapi())
    admin = gateway.headers("admin")
    failures: list[str] = []
    ran: dict[str, int] = {}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"unusable operation: {result!r}")
            continue
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key == SSE:
            continue
        name = f"{key[0]} {key[1]}"
        ran[name] = 0

        check = conformance_check(operation, gateway.url, admin, ran, name)
        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # one failure must not hide others
            failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert len(ran) == len(operations(load_openapi())) - 1
    assert all(n > 0 for n in ran.values()), ran
