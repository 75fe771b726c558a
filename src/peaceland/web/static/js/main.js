// The officers' dashboard: the login, then the views wired to the API and the live alert stream.
//
// At load the page asks who is logged in (GET /api/v1/session, by the HttpOnly cookie); nobody:
// the login view. A login link (`/#token=...`) logs in at once and leaves the address bar.
// Once logged in, the dashboard starts (stream, polling, views); when the session ends (Log
// out, or any API answer 401: expired, revoked) it stops, forgets what it showed, and the
// login view comes back. Logging in again starts it afresh, stream included.

import { Analytics } from "./analytics.js";
import { ApiError, closeSession, currentSession, getJSON, openSession, whenUnauthorized } from "./api.js";
import { LiveConsole } from "./console.js";
import { byId } from "./dom.js";
import { FleetView } from "./fleet.js";
import { LoginView, refusal, takeLinkToken } from "./login.js";
import { LiveMap } from "./map.js";
import { Store } from "./store.js";
import { AlertStream } from "./stream.js";

const LIBRARIES = { L: "Leaflet", Chart: "Chart.js", topojson: "topojson-client" };
const INCIDENTS_EVERY_MS = 10_000;
// While an incident seen on the stream is not recorded by the server yet (its actions wait for
// its id), incidents are re-read this often instead.
const INCIDENTS_PENDING_MS = 1000;
const INCIDENTS_AFTER_ALERT_MS = 400;
const ALERTS_ON_OPEN = 500;
const RETRY_MS = 2000;
const CONNECTION_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };
const READERS = new Set(["viewer", "dispatcher", "admin"]);
const DISPATCHERS = new Set(["dispatcher", "admin"]);
const SESSION_ENDED = "Your session has ended (expired or revoked): log in again.";

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// -- problems, shown in one banner until they go away ---------------------------------------

const problems = new Map();

function problem(key, text) {
  if (text) problems.set(key, text);
  else problems.delete(key);
  const banner = byId("banner");
  banner.textContent = [...problems.values()].join(" · ");
  banner.hidden = problems.size === 0;
}

function clearProblems() {
  for (const key of [...problems.keys()]) if (key !== "libraries") problem(key, null);
}

// -- the officer, the critical cue ----------------------------------------------------------

function officer() {
  const input = byId("officer");
  const name = input.value.trim();
  if (name) {
    localStorage.setItem("peaceland.officer", name);
    input.classList.remove("needed");
    problem("officer", null);
    return name;
  }
  input.classList.add("needed");
  input.focus();
  problem("officer", "Enter your name (top right) to acknowledge or resolve incidents.");
  return null;
}

let audio = null;

function beep() {
  if (!byId("sound").checked) return;
  audio ??= new AudioContext();
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.value = 880;
  gain.gain.value = 0.15;
  tone.connect(gain).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.25);
}

function showCriticals(store, arrived) {
  const open = store.activeIncidents().filter((i) => i.severity === "critical" && i.status === "open");
  const badge = byId("critical-badge");
  badge.hidden = open.length === 0;
  badge.textContent = `${open.length} critical open`;
  if (arrived.some((a) => a.severity === "critical")) {
    badge.classList.remove("flash");
    void badge.offsetWidth; // restart the animation
    badge.classList.add("flash");
    beep();
  }
}

// -- views ----------------------------------------------------------------------------------

class Router {
  constructor(views) {
    this.views = views;
    this.current = null;
    this.active = false;
    window.addEventListener("hashchange", () => this.active && this.route());
  }

  start() {
    this.active = true;
    this.route();
  }

  stop() {
    this.active = false;
    if (this.current) this.views[this.current].hide?.();
    this.current = null;
  }

  route() {
    const views = this.views;
    const name = Object.hasOwn(views, location.hash.slice(1)) ? location.hash.slice(1) : "console";
    if (name === this.current) return;
    if (this.current) views[this.current].hide?.();
    this.current = name;
    for (const section of document.querySelectorAll("main > .view")) {
      section.hidden = section.dataset.view !== name;
    }
    for (const tab of document.querySelectorAll(".tabs a")) {
      tab.classList.toggle("active", tab.dataset.view === name);
    }
    Promise.resolve(views[name].show?.()).catch((error) => problem("view", String(error)));
  }
}

function showConnection(state) {
  const conn = byId("conn");
  conn.className = `conn conn-${state} signed-in`;
  conn.textContent = CONNECTION_TEXT[state];
  conn.dataset.state = state;
}

async function loadConfig() {
  for (;;) {
    try {
      const config = await getJSON("/api/v1/config");
      problem("config", null);
      return config;
    } catch (error) {
      if (error.status === 401 || error.status === 403) throw error;
      problem("config", `Cannot reach the server (${error.message}); retrying…`);
      await pause(RETRY_MS);
    }
  }
}

/** Everything shown once logged in; `start()` at each login, `stop()` when it ends. */
class Dashboard {
  constructor(config, { sessionLost }) {
    this.run = 0; // which login the answers in flight belong to; 0: stopped
    this.runs = 0;
    this.incidentsTimer = null;
    this.incidentReads = 0; // incident lists asked for, and the latest one applied
    this.incidentsShown = 0;
    this.soon = null;
    const store = (this.store = new Store());
    store.addEventListener("change", (event) => {
      const { alerts = [], live = false, put = false } = event.detail;
      showCriticals(store, live ? alerts : []);
      if (live) this.refreshSoon();
      // An acknowledgement's answer is newer than any list asked for before it.
      if (put) this.incidentsShown = this.incidentReads;
    });
    this.console = new LiveConsole(store, {
      officer,
      report: (t) => problem("action", t),
      refresh: () => this.refreshIncidents(),
    });
    this.stream = new AlertStream("/api/v1/alerts/stream", {
      onAlert: (alert) => store.addAlerts([alert], { live: true }),
      onState: showConnection,
      // After every (re)connection: whatever the stream may not replay, from the API.
      onOpen: () => Promise.all([this.readAlerts(), this.refreshIncidents()]),
      // EventSource hides the HTTP status: ask whether the session is still valid.
      onGiveUp: () => {
        currentSession().catch((error) => {
          if (error.status === 401) sessionLost();
        });
      },
    });
    this.views = {
      console: { show: () => this.console.render() },
      map: new LiveMap(byId("live-map"), config, store),
      fleet: new FleetView(),
      analytics: new Analytics(config),
    };
    this.router = new Router(this.views);
  }

  start() {
    this.run = ++this.runs;
    this.stream.start();
    this.router.start();
  }

  stop() {
    this.run = 0;
    this.stream.stop();
    showConnection("connecting"); // until the next login's stream opens
    clearTimeout(this.incidentsTimer);
    clearTimeout(this.soon);
    this.soon = null;
    this.router.stop();
    for (const view of Object.values(this.views)) view.forget?.();
    this.store.clear();
    this.console.render();
  }

  async refreshIncidents() {
    const run = this.run;
    clearTimeout(this.incidentsTimer);
    if (!run) return;
    // Reads overlap (timer, new alerts, reconnections) and may answer out of order: an older
    // list must not override a newer one (it would mark a just-recorded incident resolved).
    const ticket = ++this.incidentReads;
    try {
      const answer = await getJSON("/api/v1/incidents", { status: "open,acknowledged", limit: 1000 });
      if (run !== this.run || ticket <= this.incidentsShown) return;
      this.incidentsShown = ticket;
      this.store.setIncidents(answer.incidents);
      problem("incidents", null);
    } catch (error) {
      if (run !== this.run) return;
      problem("incidents", `Incidents unavailable: ${error.message}; retrying…`);
    }
    clearTimeout(this.incidentsTimer);
    const every = this.store.provisionalCount() > 0 ? INCIDENTS_PENDING_MS : INCIDENTS_EVERY_MS;
    this.incidentsTimer = setTimeout(() => this.refreshIncidents(), every);
  }

  refreshSoon() {
    if (this.soon !== null || !this.run) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.refreshIncidents();
    }, INCIDENTS_AFTER_ALERT_MS);
  }

  async readAlerts() {
    const run = this.run;
    try {
      const answer = await getJSON("/api/v1/alerts", { limit: ALERTS_ON_OPEN });
      if (run !== this.run) return;
      this.store.addAlerts(answer.alerts);
      problem("alerts", null);
    } catch (error) {
      if (run !== this.run) return;
      problem("alerts", `Recent alerts unavailable: ${error.message}`);
    }
  }
}

// -- the login session ----------------------------------------------------------------------

let dashboard = null; // built at the first login: its config is read with the session
let epoch = 0; // counts logins and logouts, so a slow login cannot undo a later logout
const login = new LoginView(logIn);

async function logIn(token) {
  await enter(await openSession(token));
}

async function enter(who) {
  const mine = ++epoch;
  if (!READERS.has(who.role)) {
    await closeSession().catch(() => {});
    throw new ApiError(403, `the ${who.role} role may not read alerts`);
  }
  byId("who-name").textContent = who.name;
  byId("who-name").title = `Logged in as ${who.name}`;
  byId("who-role").textContent = who.role;
  const body = document.body;
  body.dataset.role = who.role;
  if (DISPATCHERS.has(who.role)) body.dataset.dispatch = "";
  else delete body.dataset.dispatch;
  const input = byId("officer");
  if (!input.value.trim()) input.value = who.name;
  login.hide();
  body.dataset.auth = "in";
  if (dashboard === null) {
    const config = await loadConfig();
    if (mine !== epoch) return;
    dashboard ??= new Dashboard(config, { sessionLost });
  }
  if (dashboard.run) dashboard.stop(); // another login over a running one: start afresh
  dashboard.start();
}

async function logInWithLink(token) {
  try {
    await logIn(token);
  } catch (error) {
    leave({ error: refusal(error, "The login link's token") });
  }
}

/** Back to the login view: the dashboard stops and forgets what it showed. */
function leave(message = {}) {
  epoch++;
  dashboard?.stop();
  clearProblems();
  const body = document.body;
  body.dataset.auth = "out";
  delete body.dataset.role;
  delete body.dataset.dispatch;
  byId("who-name").textContent = "";
  byId("who-name").title = "";
  byId("who-role").textContent = "";
  login.show(message);
}

function sessionLost() {
  if (document.body.dataset.auth === "in") leave({ info: SESSION_ENDED });
}

async function logOut() {
  const button = byId("logout");
  button.disabled = true;
  try {
    await closeSession();
    // The next officer at this desk gives their own name (the login's, until they type one).
    localStorage.removeItem("peaceland.officer");
    byId("officer").value = "";
    leave({ info: "You are logged out." });
  } catch (error) {
    problem("logout", `Could not log out: ${error.message}. Try again.`);
  } finally {
    button.disabled = false;
  }
}

async function main() {
  // First of all: a login link's token leaves the address bar and the history.
  const linkToken = takeLinkToken();
  const missing = Object.entries(LIBRARIES).filter(([name]) => !(name in window));
  if (missing.length) {
    problem("libraries", `Front-end libraries failed to load (${missing.map(([, n]) => n).join(", ")}): ` +
      "run `make install` on the server, then reload.");
    return;
  }
  byId("officer").value = localStorage.getItem("peaceland.officer") ?? "";
  const sound = byId("sound");
  sound.checked = localStorage.getItem("peaceland.sound") === "on";
  sound.addEventListener("change", () => {
    localStorage.setItem("peaceland.sound", sound.checked ? "on" : "off");
  });
  byId("logout").addEventListener("click", logOut);
  whenUnauthorized(sessionLost);
  // A login link opened over this page only changes the fragment: no new page load.
  window.addEventListener("hashchange", () => {
    const token = takeLinkToken();
    if (token !== null) logInWithLink(token);
  });

  if (linkToken !== null) {
    await logInWithLink(linkToken);
    return;
  }
  for (;;) {
    let who;
    try {
      who = await currentSession();
    } catch (error) {
      if (error.status !== 401) {
        problem("session", `Cannot reach the server (${error.message}); retrying…`);
        await pause(RETRY_MS);
        continue;
      }
      problem("session", null);
      leave();
      return;
    }
    problem("session", null);
    try {
      await enter(who);
    } catch (error) {
      leave({ error: refusal(error) });
    }
    return;
  }
}

main().catch((error) => problem("fatal", `The dashboard failed to start: ${error.message}`));
