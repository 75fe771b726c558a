"""Authentication and authorisation of the HTTP API, officers' sessions, tokens, the audit log.

Every ``/api/v1/*`` request needs an API token, either as ``Authorization: Bearer <token>``
(drones, scripts) or in the ``peaceland_session`` cookie the dashboard's login sets (browsers;
``EventSource`` cannot send headers). No token or an unknown one: 401; a role without the
permission the route needs (``peaceland.access.ROUTES``): 403. Outside ``/api/v1/`` (the
dashboard's page and assets, ``/healthz``, ``/readyz``, ``/metrics``) nothing is needed.

The cookie holds a session token, not the API token: it has the API token's role, ends after
12 hours or at logout, and is revoked with its API token. It is ``HttpOnly`` (page scripts
cannot read it), ``SameSite=Strict`` and ``Secure``
(browsers send it over HTTPS, or to ``localhost`` / ``127.0.0.1``); a state-changing request
authenticated by the cookie must also come from the same origin.

Routes:

* ``POST /api/v1/session`` ``{"token": ...}`` → sets the cookie; ``GET`` → who is logged in;
  ``DELETE`` → clears it.
* ``GET /api/v1/tokens``, ``POST /api/v1/tokens`` ``{"name", "role", "drone_id"?}`` (the
  token is in the answer, once; ``drone_id`` binds a drone token to that drone),
  ``DELETE /api/v1/tokens/<name>`` — admin only.
* ``GET /api/v1/audit?limit=`` — the audit log, newest first; admin only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import msgspec
from aiohttp import web

from peaceland.access import (
    SESSION_S,
    Caller,
    Permission,
    Role,
    TokenStore,
    allows,
    bearer_token,
    parse_role,
    required_permission,
)
from peaceland.access import audit as audit_log
from peaceland.contract import AccessError, UnknownToken
from peaceland.stream import JetStreamContext
from peaceland.web.responses import json_error, json_response

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "peaceland_session"
SESSION_MAX_AGE_S: Final = SESSION_S
MAX_BODY_BYTES: Final = 4096

TOKENS_KEY: Final = web.AppKey("token_store", TokenStore)
AUDIT_JS_KEY: Final = web.AppKey("audit_js", JetStreamContext)
SECURE_COOKIE_KEY: Final = web.AppKey("secure_cookie", bool)
CALLER: Final = web.RequestKey("caller", Caller)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def caller_of(request: web.Request) -> Caller:
    """Who made this (authenticated) request."""
    try:
        return request[CALLER]
    except KeyError:
        raise RuntimeError("no authenticated caller on this request") from None


def _unauthorized(message: str) -> web.Response:
    response = json_error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="peaceland"'
    return response


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-site request: browsers send Origin on POST/DELETE
    return origin == f"{request.scheme}://{request.host}"


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else None
    needed = required_permission(request.method, route, request.path)
    if needed is Permission.PUBLIC:
        return await handler(request)
    token = bearer_token(request.headers.get("Authorization"))
    via_cookie = token is None and SESSION_COOKIE in request.cookies
    if via_cookie:
        token = request.cookies[SESSION_COOKIE]
    if not token:
        return _unauthorized("an API token is required: Authorization: Bearer <token>")
    record = await request.app[TOKENS_KEY].lookup(token)
    if record is None:
        return _unauthorized("unknown or revoked token")
    if via_cookie and request.method not in ("GET", "HEAD") and not _same_origin(request):
        return json_error(403, "cross-origin request refused")
    if not allows(record.role, needed):
        return json_error(403, f"the {record.role} role may not {request.method} {request.path}")
    request[CALLER] = Caller(record.name, record.role, record.drone_id)
    return await handler(request)


async def audited(
    request: web.Request, action: str, target: str, response: web.Response
) -> web.Response:
    """Record an applied action in the audit log; 503 if it could not be recorded."""
    caller = caller_of(request)
    item = audit_log.entry(caller.name, caller.role, action, target, remote=request.remote or "")
    try:
        await audit_log.record(request.app[AUDIT_JS_KEY], item)
    except Exception as exc:  # the action is applied: say so, loudly
        log.error("audit log write failed for %s %s by %s: %s", action, target, caller.name, exc)
        return json_error(503, f"{action} {target} was applied but not recorded in the audit log")
    return response


async def _read_json(request: web.Request) -> object:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_BYTES, actual_size=request.content_length
        )
    body = await request.read()
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise web.HTTPBadRequest(
            text=msgspec.json.encode({"error": f"body is not JSON: {exc}"}).decode(),
            content_type="application/json",
        ) from None


def _field(doc: object, name: str) -> str:
    value = doc.get(name) if isinstance(doc, dict) else None
    if not isinstance(value, str) or not value:
        raise web.HTTPUnprocessableEntity(
            text=msgspec.json.encode({"error": f"{name!r} (a string) is required"}).decode(),
            content_type="application/json",
        )
    return value


async def login(request: web.Request) -> web.Response:
    token = _field(await _read_json(request), "token")
    tokens = request.app[TOKENS_KEY]
    record = await tokens.lookup(token)
    if record is None:
        return _unauthorized("unknown or revoked token")
    if record.role is Role.DRONE:
        return json_error(403, "a drone token cannot open a dashboard session")
    request[CALLER] = Caller(record.name, record.role, record.drone_id)
    session = await tokens.open_session(record, SESSION_MAX_AGE_S)
    response = json_response(200, {"name": record.name, "role": record.role})
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        secure=request.app[SECURE_COOKIE_KEY],
        samesite="Strict",
    )
    return await audited(request, "session.login", record.name, response)


async def whoami(request: web.Request) -> web.Response:
    caller = caller_of(request)
    return json_response(200, {"name": caller.name, "role": caller.role})


async def logout(request: web.Request) -> web.Response:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        await request.app[TOKENS_KEY].close_session(session)
    response = json_response(200, {"logged_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[TOKENS_KEY].records()
    return json_response(200, {"tokens": tokens, "count": len(tokens)})


async def create_token(request: web.Request) -> web.Response:
    doc = await _read_json(request)
    name = _field(doc, "name")
    drone_id = doc.get("drone_id") if isinstance(doc, dict) else None
    if drone_id is not None and not isinstance(drone_id, str):
        return json_error(422, "'drone_id' must be a string")
    try:
        role = parse_role(_field(doc, "role"))
        token, record = await request.app[TOKENS_KEY].create(
            name, role, created_by=caller_of(request).name, drone_id=drone_id
        )
    except (ValueError, AccessError) as exc:
        return json_error(422, str(exc))
    body = {"token": token, "name": record.name, "role": record.role, "drone_id": drone_id}
    return await audited(request, "token.create", name, json_response(201, body))


async def revoke_token(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        record = await request.app[TOKENS_KEY].revoke(name)
    except UnknownToken as exc:
        return json_error(404, str(exc))
    body = {"revoked": record.name, "role": record.role}
    return await audited(request, "token.revoke", name, json_response(200, body))


async def list_audit(request: web.Request) -> web.Response:
    raw = request.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= audit_log.MAX_RECENT:
        return json_error(400, f"limit must be 1..{audit_log.MAX_RECENT}")
    entries = await audit_log.recent(request.app[AUDIT_JS_KEY], int(raw))
    return json_response(200, {"entries": entries, "count": len(entries)})


def add_auth(
    app: web.Application, js: JetStreamContext, tokens: TokenStore, *, secure_cookie: bool
) -> None:
    """The middleware and the session, token and audit routes."""
    app[TOKENS_KEY] = tokens
    app[AUDIT_JS_KEY] = js
    app[SECURE_COOKIE_KEY] = secure_cookie
    app.middlewares.append(authenticate)
    app.router.add_post("/api/v1/session", login)
    app.router.add_get("/api/v1/session", whoami)
    app.router.add_delete("/api/v1/session", logout)
    app.router.add_get("/api/v1/tokens", list_tokens)
    app.router.add_post("/api/v1/tokens", create_token)
    app.router.add_delete("/api/v1/tokens/{name}", revoke_token)
    app.router.add_get("/api/v1/audit", list_audit)
