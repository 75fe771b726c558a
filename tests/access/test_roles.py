"""Roles, permissions and tokens of the HTTP API (pure)."""

from __future__ import annotations

import pytest

from peaceland.access import Permission, Role, allows, bearer_token, parse_role, required_permission
from peaceland.access.roles import ROUTES, new_token, token_hash, valid_token_name

EXPECTED = {
    # role: permissions it has
    Role.DRONE: {Permission.INGEST},
    Role.VIEWER: {Permission.READ},
    Role.DISPATCHER: {Permission.READ, Permission.DISPATCH},
    Role.ADMIN: {Permission.INGEST, Permission.READ, Permission.DISPATCH, Permission.ADMIN},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(
    "permission", [Permission.INGEST, Permission.READ, Permission.DISPATCH, Permission.ADMIN]
)
def test_each_role_has_exactly_its_permissions(role: Role, permission: Permission) -> None:
    assert allows(role, permission) is (permission in EXPECTED[role])


def test_open_and_any_token_permissions_are_granted_to_every_role() -> None:
    for role in Role:
        assert allows(role, Permission.PUBLIC)
        assert allows(role, Permission.AUTHENTICATED)


def test_routes_outside_the_api_are_public_and_api_routes_need_a_token() -> None:
    assert required_permission("GET", "/healthz", "/healthz") is Permission.PUBLIC
    assert required_permission("GET", None, "/static/js/app.js") is Permission.PUBLIC
    assert required_permission("POST", "/api/v1/reports", "/api/v1/reports") is Permission.INGEST
    incident = "/api/v1/incidents/{incident_id}/ack"
    assert required_permission("POST", incident, "/api/v1/incidents/x/ack") is Permission.DISPATCH
    assert required_permission("HEAD", "/api/v1/alerts", "/api/v1/alerts") is Permission.READ


def test_an_api_route_missing_from_the_table_needs_admin() -> None:
    assert ("GET", "/api/v1/new-thing") not in ROUTES
    assert required_permission("GET", "/api/v1/new-thing", "/api/v1/new-thing") is Permission.ADMIN
    # an unmatched path (404/405) still needs a token, so it reveals nothing to strangers
    assert required_permission("GET", None, "/api/v1/nothing") is Permission.AUTHENTICATED


def test_only_the_login_is_public_under_the_api() -> None:
    public = {key for key, permission in ROUTES.items() if permission is Permission.PUBLIC}
    assert public == {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session")}


def test_tokens_are_random_prefixed_and_stored_as_sha256() -> None:
    a, b = new_token(), new_token()
    assert a != b
    assert a.startswith("plt_")
    assert len(a) >= 40
    assert len(token_hash(a)) == 64
    assert token_hash(a) != token_hash(b)
    assert a not in token_hash(a)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
        ("Bearer " + "x" * 201, None),
    ],
)
def test_bearer_header_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_role_and_name_validation() -> None:
    assert parse_role("viewer") is Role.VIEWER
    with pytest.raises(ValueError, match="unknown role 'root'"):
        parse_role("root")
    assert valid_token_name("desk-1")
    assert valid_token_name("j.valjean@prefecture")
    assert not valid_token_name("")
    assert not valid_token_name("-x")
    assert not valid_token_name("a b")
