// The officers' dashboard: wires the views to the API and the live alert stream.

import { Analytics } from "./analytics.js";
import { getJSON } from "./api.js";
import { LiveConsole } from "./console.js";
import { byId } from "./dom.js";
import { FleetView } from "./fleet.js";
import { LiveMap } from "./map.js";
import { Store } from "./store.js";
import { AlertStream } from "./stream.js";

const LIBRARIES = { L: "Leaflet", Chart: "Chart.js", topojson: "topojson-client" };
const INCIDENTS_EVERY_MS = 10_000;
const INCIDENTS_AFTER_ALERT_MS = 400;
const ALERTS_ON_OPEN = 500;
const CONNECTION_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };

// -- problems, shown in one banner until they go away ---------------------------------------

const problems = new Map();

function problem(key, text) {
  if (text) problems.set(key, text);
  else problems.delete(key);
  const banner = byId("banner");
  banner.textContent = [...problems.values()].join(" · ");
  banner.hidden = problems.size === 0;
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

function router(views) {
  let current = null;
  const route = () => {
    const name = Object.hasOwn(views, location.hash.slice(1)) ? location.hash.slice(1) : "console";
    if (name === current) return;
    if (current) views[current].hide?.();
    current = name;
    for (const section of document.querySelectorAll("main > .view")) {
      section.hidden = section.dataset.view !== name;
    }
    for (const tab of document.querySelectorAll(".tabs a")) {
      tab.classList.toggle("active", tab.dataset.view === name);
    }
    Promise.resolve(views[name].show?.()).catch((error) => problem("view", String(error)));
  };
  window.addEventListener("hashchange", route);
  route();
}

async function loadConfig() {
  for (;;) {
    try {
      const config = await getJSON("/api/v1/config");
      problem("config", null);
      return config;
    } catch (error) {
      problem("config", `Cannot reach the server (${error.message}); retrying…`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

async function main() {
  const missing = Object.entries(LIBRARIES).filter(([name]) => !(name in window));
  if (missing.length) {
    problem("libraries", `Front-end libraries failed to load (${missing.map(([, n]) => n).join(", ")}): ` +
      "run `make install` on the server, then reload.");
    return;
  }
  const input = byId("officer");
  input.value = localStorage.getItem("peaceland.officer") ?? "";
  const sound = byId("sound");
  sound.checked = localStorage.getItem("peaceland.sound") === "on";
  sound.addEventListener("change", () => {
    localStorage.setItem("peaceland.sound", sound.checked ? "on" : "off");
  });

  const config = await loadConfig();
  const store = new Store();

  let incidentsTimer = null;
  const refreshIncidents = async () => {
    clearTimeout(incidentsTimer);
    try {
      const answer = await getJSON("/api/v1/incidents", { status: "open,acknowledged", limit: 1000 });
      store.setIncidents(answer.incidents);
      problem("incidents", null);
    } catch (error) {
      problem("incidents", `Incidents unavailable: ${error.message}; retrying…`);
    }
    incidentsTimer = setTimeout(refreshIncidents, INCIDENTS_EVERY_MS);
  };
  let soon = null;
  const refreshSoon = () => {
    if (soon === null) soon = setTimeout(() => { soon = null; refreshIncidents(); }, INCIDENTS_AFTER_ALERT_MS);
  };
  const readAlerts = async () => {
    try {
      const answer = await getJSON("/api/v1/alerts", { limit: ALERTS_ON_OPEN });
      store.addAlerts(answer.alerts);
      problem("alerts", null);
    } catch (error) {
      problem("alerts", `Recent alerts unavailable: ${error.message}`);
    }
  };

  store.addEventListener("change", (event) => {
    const { alerts = [], live = false } = event.detail;
    showCriticals(store, live ? alerts : []);
    if (live) refreshSoon();
  });

  const console_ = new LiveConsole(store, { officer, report: (t) => problem("action", t), refresh: refreshIncidents });
  const conn = byId("conn");
  const stream = new AlertStream("/api/v1/alerts/stream", {
    onAlert: (alert) => store.addAlerts([alert], { live: true }),
    onState: (state) => {
      conn.className = `conn conn-${state}`;
      conn.textContent = CONNECTION_TEXT[state];
      conn.dataset.state = state;
    },
    // After every (re)connection: whatever the stream may not replay, from the API.
    onOpen: () => Promise.all([readAlerts(), refreshIncidents()]),
  });
  stream.start();

  router({
    console: { show: () => console_.render() },
    map: new LiveMap(byId("live-map"), config, store),
    fleet: new FleetView(),
    analytics: new Analytics(config),
  });
}

main().catch((error) => problem("fatal", `The dashboard failed to start: ${error.message}`));
