// The login view: asks for an API token, or takes it from a one-click link (`/#token=...`,
// as `peaceland demo` prints). The token goes once to POST /api/v1/session, which answers
// with an HttpOnly cookie; the page never stores it, never shows it, and clears the field.

import { ApiError } from "./api.js";
import { byId } from "./dom.js";

/** The token of a login link, removed from the address bar (and history) before anything. */
export function takeLinkToken() {
  const fragment = location.hash.slice(1);
  if (!fragment.includes("token=")) return null;
  const token = new URLSearchParams(fragment).get("token");
  history.replaceState(history.state, "", location.pathname + location.search);
  return token ? token.trim() : null;
}

/** Why a login was refused, for an officer. */
export function refusal(error, what = "This token") {
  if (!(error instanceof ApiError)) return `Login failed: ${error.message}`;
  switch (error.status) {
    case 0:
      return "Cannot reach the server; try again.";
    case 401:
      return `${what} was refused: it is unknown or has been revoked. ` +
        "Check it, or ask an administrator for a new one.";
    case 403:
      return `${what} cannot open the dashboard: ${error.message}.`;
    case 429:
      return `Too many attempts: ${error.message}. Wait a moment.`;
    default:
      return `Login failed: ${error.message}`;
  }
}

export class LoginView {
  /** `submit(token)` logs in (throws ApiError when refused). */
  constructor(submit) {
    this.view = byId("login-view");
    this.form = byId("login-form");
    this.input = byId("login-token");
    this.button = byId("login-submit");
    this.error = byId("login-error");
    this.info = byId("login-info");
    this.form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = this.input.value.trim();
      if (!token) {
        this.#say("Enter your API token.");
        this.input.focus();
        return;
      }
      this.button.disabled = true;
      this.#say("");
      this.#tell("");
      try {
        await submit(token);
        this.input.value = "";
      } catch (error) {
        this.#say(refusal(error));
        this.input.select();
      } finally {
        this.button.disabled = false;
      }
    });
  }

  /** Shows the view with an `error` (a refused link) or an `info` (logged out, ended). */
  show({ error = "", info = "" } = {}) {
    this.view.hidden = false;
    this.input.value = "";
    this.#say(error);
    this.#tell(info);
    this.input.focus();
  }

  hide() {
    this.view.hidden = true;
    this.input.value = "";
    this.#say("");
    this.#tell("");
  }

  #say(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  #tell(text) {
    this.info.textContent = text;
    this.info.hidden = !text;
  }
}
