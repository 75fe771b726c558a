// The live console: open and acknowledged incidents (with acknowledge / resolve) and the
// recent alerts, newest first. Every field from a report goes in as text (see dom.js).

import { postJSON } from "./api.js";
import { byId, el, forgetOthers, reconcile, setText } from "./dom.js";
import { ago, position, severityClass, utc } from "./format.js";

const MAX_ROWS = 200;
const MAX_CARDS = 100; // per list: the most recent; the map shows them all

export class LiveConsole {
  /**
   * `officer()` returns the officer's name, or null after asking for it;
   * `report(message)` shows a problem; `refresh()` re-reads incidents from the server.
   */
  constructor(store, { officer, report, refresh }) {
    this.store = store;
    this.officer = officer;
    this.report = report;
    this.refresh = refresh;
    this.cards = new Map();
    this.rows = new Map();
    this.pending = false;
    store.addEventListener("change", () => this.schedule());
    setInterval(() => this.tick(), 1000);
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const active = this.store.activeIncidents();
    const open = active.filter((i) => i.status === "open");
    const acked = active.filter((i) => i.status === "acknowledged");
    const cards = {
      cache: this.cards,
      key: (i) => i.citizen,
      create: (i) => this.#card(i),
      update: (node, i) => this.#updateCard(node, i),
    };
    const shown = [open.slice(0, MAX_CARDS), acked.slice(0, MAX_CARDS)];
    reconcile(byId("incidents-open"), shown[0], cards);
    reconcile(byId("incidents-acked"), shown[1], cards);
    forgetOthers(this.cards, shown.flat().map((i) => i.citizen));
    setText("incidents-open-more", more(open.length));
    setText("incidents-acked-more", more(acked.length));
    setText("open-count", open.length);
    setText("acked-count", acked.length);
    byId("incidents-open-empty").hidden = open.length > 0;
    byId("incidents-acked-empty").hidden = acked.length > 0;

    const alerts = this.store.recentAlerts().slice(0, MAX_ROWS);
    reconcile(byId("alerts-body"), alerts, {
      cache: this.rows,
      key: (a) => a.seq,
      create: (a) => this.#row(a),
      update: (node, a) => this.#updateRow(node, a),
    });
    forgetOthers(this.rows, alerts.map((a) => a.seq));
    setText("alert-count", this.store.alerts.size);
    byId("alerts-empty").hidden = alerts.length > 0;
    this.store.fresh.clear();
  }

  tick() {
    const now = Date.now();
    for (const node of this.cards.values()) this.#ages(node, now);
    for (const node of this.rows.values()) {
      node.querySelector(".raised").textContent = ago(node.raisedAt, now);
    }
  }

  #card(incident) {
    const node = el("article", { class: "incident" });
    node.parts = {
      chip: el("span", { class: "chip" }),
      citizen: el("span", { class: "incident-citizen" }),
      count: el("span", { class: "incident-count" }),
      where: el("div", { class: "incident-line" }),
      when: el("div", { class: "incident-line" }),
      state: el("div", { class: "incident-state" }),
      note: el("input", { type: "text", maxlength: 2000, placeholder: "note (optional)" }),
      ack: el("button", { type: "button", class: "primary", text: "Acknowledge" }),
      resolve: el("button", { type: "button", text: "Resolve" }),
    };
    const p = node.parts;
    p.ack.addEventListener("click", () => this.#act(node, "ack"));
    p.resolve.addEventListener("click", () => this.#act(node, "resolve"));
    node.append(
      el("div", { class: "incident-head" }, p.chip, p.citizen, p.count),
      p.where,
      p.when,
      p.state,
      // Shown to the roles that may act (dispatcher, admin); the server checks anyway.
      el("div", { class: "incident-actions can-dispatch" }, p.note, p.ack, p.resolve),
    );
    return node;
  }

  #updateCard(node, incident) {
    const p = node.parts;
    node.incident = incident;
    node.className = `incident ${severityClass(incident.severity)}`;
    if (this.store.fresh.has(incident.citizen)) {
      void node.offsetWidth; // restart the animation
      node.classList.add("fresh");
    }
    node.dataset.status = incident.status;
    node.dataset.incidentId = incident.incident_id ?? "";
    p.chip.className = `chip ${severityClass(incident.severity)}`;
    p.chip.textContent = incident.severity;
    p.citizen.textContent = incident.citizen;
    p.count.textContent = incident.count === 1 ? "1 alert" : `${incident.count} alerts`;
    p.where.textContent =
      `peacescore ${incident.peacescore} · drone ${incident.drone_id} · ` +
      position(incident.lat, incident.lon);
    p.state.className = `incident-state status status-${incident.status}`;
    p.state.textContent = stateText(incident);
    const known = Boolean(incident.incident_id) && !node.busy;
    p.ack.disabled = !known || incident.status !== "open";
    p.ack.hidden = incident.status !== "open";
    p.resolve.disabled = !known;
    p.ack.title = known ? "" : "waiting for the incident to be recorded…";
    this.#ages(node, Date.now());
  }

  #ages(node, now) {
    const i = node.incident;
    if (!i) return;
    node.parts.when.textContent =
      `opened ${ago(i.opened_at, now)} · last alert ${ago(i.updated_at, now)}` +
      ` · report time ${utc(i.last_seen)}`;
  }

  async #act(node, action) {
    const incident = node.incident;
    const by = this.officer();
    if (!by || !incident?.incident_id) return;
    const note = node.parts.note.value.trim() || null;
    node.busy = true;
    this.#updateCard(node, incident);
    try {
      const id = encodeURIComponent(incident.incident_id);
      const updated = await postJSON(`/api/v1/incidents/${id}/${action}`, { by, note });
      node.parts.note.value = "";
      this.store.putIncident(updated);
    } catch (error) {
      const verb = action === "ack" ? "acknowledge" : "resolve";
      if (error.status === 403) {
        this.report(`You may not ${verb} incidents: your login's role only lets you watch ` +
          `(${error.message}). Ask for a dispatcher token.`);
        return;
      }
      if (error.status === 401) return; // the session ended: the login view is back
      this.report(`Could not ${verb} the incident of ${incident.citizen}: ${error.message}`);
      if (error.status === 409) this.refresh();
    } finally {
      node.busy = false;
      if (node.incident) this.#updateCard(node, node.incident);
    }
  }

  #row(alert) {
    const cells = {
      raised: el("td", { class: "raised" }),
      severity: el("td", {}, el("span", { class: `chip ${severityClass(alert.severity)}`, text: alert.severity })),
      citizen: el("td", { class: "citizen", text: alert.citizen }),
      score: el("td", { text: alert.peacescore }),
      drone: el("td", { text: alert.drone_id }),
      where: el("td", { text: position(alert.lat, alert.lon) }),
      words: el("td", { class: "words", text: (alert.words ?? []).join(" · ") }),
      status: el("td", {}),
    };
    const row = el("tr", { class: severityClass(alert.severity), dataset: { seq: alert.seq } },
      ...Object.values(cells));
    row.cells_ = cells;
    row.raisedAt = alert.raised_at;
    cells.raised.textContent = ago(alert.raised_at);
    cells.raised.title = `raised ${utc(alert.raised_at)} · report ${utc(alert.ts)}`;
    if (this.store.fresh.has(alert.seq)) row.classList.add("fresh");
    return row;
  }

  #updateRow(row, alert) {
    const status = this.store.statusOf(alert);
    row.dataset.status = status;
    const cell = row.cells_.status;
    if (cell.textContent !== status) {
      cell.replaceChildren(el("span", { class: `status status-${status}`, text: status }));
    }
  }
}

function more(count) {
  return count > MAX_CARDS ? `and ${count - MAX_CARDS} older ones (all on the map)` : "";
}

function stateText(incident) {
  if (incident.status === "acknowledged" && incident.acknowledged) {
    const a = incident.acknowledged;
    return `acknowledged by ${a.by} ${ago(a.at)}` + (a.note ? ` — “${a.note}”` : "");
  }
  if (incident.provisional) return "open · being recorded…";
  return incident.status;
}
