// JSON over HTTP to this server only (relative URLs), with errors officers can read.
//
// Requests carry the login session's cookie (same origin; page scripts cannot read it). Any
// answer 401 outside the login routes means the session ended (expired, revoked, logged out
// elsewhere): the handler set with `whenUnauthorized` is told, and shows the login view.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let unauthorized = null;

/** `handler(message)` is called on every 401 answer of an API call (not of the login itself). */
export function whenUnauthorized(handler) {
  unauthorized = handler;
}

async function call(path, init, { signal401 = true } = {}) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", credentials: "same-origin", ...init });
  } catch {
    throw new ApiError(0, "server unreachable");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : response.statusText;
    const error = new ApiError(response.status, message || `HTTP ${response.status}`);
    if (response.status === 401 && signal401 && unauthorized !== null) unauthorized(error.message);
    throw error;
  }
  return body;
}

/** GET `path` with query `params` (null values left out). */
export function getJSON(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) query.set(key, String(value));
  }
  const text = query.toString();
  return call(text ? `${path}?${text}` : path);
}

export function postJSON(path, body) {
  return call(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// -- the login session (a 401 here is an answer, not the end of a session) -------------------

const SESSION = "/api/v1/session";

/** Who is logged in: `{name, role}`; ApiError 401 when nobody is. */
export function currentSession() {
  return call(SESSION, {}, { signal401: false });
}

/** Logs in with an API token: the server sets the session cookie; `{name, role}`. */
export function openSession(token) {
  return call(SESSION, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  }, { signal401: false });
}

/** Logs out: the server clears the session cookie. */
export function closeSession() {
  return call(SESSION, { method: "DELETE" }, { signal401: false });
}
