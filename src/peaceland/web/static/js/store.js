// What the console and the map show: recent alerts (by stream sequence) and the latest
// incident of each citizen. Fed by the SSE stream and the API; views listen to "change".

import { SEVERITY_RANK } from "./format.js";

const MAX_ALERTS = 300;
const ACTIVE = new Set(["open", "acknowledged"]);
// A local incident the server has not reported yet is kept this long (the builder lags a bit).
const PROVISIONAL_MS = 30_000;

export class Store extends EventTarget {
  constructor() {
    super();
    this.alerts = new Map(); // seq -> alert (+ seq, status, incident_id)
    this.incidents = new Map(); // citizen -> their latest incident, server's or provisional
    this.lastSeq = 0;
    this.fresh = new Set(); // seqs and citizens that arrived live, for a visual cue
  }

  /** Alerts from the API (newest first) or the stream; each seq counts once. */
  addAlerts(alerts, { live = false } = {}) {
    const added = [];
    for (const alert of alerts) {
      const seq = Number(alert.seq);
      if (!Number.isSafeInteger(seq) || seq <= 0 || this.alerts.has(seq)) continue;
      this.alerts.set(seq, { ...alert, seq });
      added.push(alert);
      if (seq > this.lastSeq) {
        this.lastSeq = seq;
        if (live) this.#attach({ ...alert, seq });
      }
    }
    this.#trim();
    if (added.length) {
      if (live) for (const a of added) this.fresh.add(a.seq);
      this.#changed({ alerts: added, live });
    }
    return added;
  }

  /** The server's open and acknowledged incidents, merged with what the stream told us. */
  setIncidents(list) {
    const listed = new Set();
    for (const incident of list) {
      listed.add(incident.citizen);
      const local = this.incidents.get(incident.citizen);
      if (local && (local.last_seq ?? 0) > (incident.last_seq ?? 0) && local.status !== "resolved") {
        // The stream is ahead of the incident builder: keep our counts, take its identity.
        this.incidents.set(incident.citizen, {
          ...local,
          incident_id: incident.incident_id,
          status: incident.status,
          acknowledged: incident.acknowledged,
          opened_at: incident.opened_at,
          provisional: false,
        });
      } else {
        this.incidents.set(incident.citizen, incident);
      }
    }
    const now = Date.now();
    for (const [citizen, incident] of this.incidents) {
      if (listed.has(citizen) || !ACTIVE.has(incident.status)) continue;
      if (incident.provisional && now - incident.created < PROVISIONAL_MS) continue;
      if (incident.provisional) this.incidents.delete(citizen);
      else this.incidents.set(citizen, { ...incident, status: "resolved" }); // elsewhere
    }
    this.#changed({ incidents: true });
  }

  /** One incident as the server answered an ack or resolve. */
  putIncident(incident) {
    this.incidents.set(incident.citizen, incident);
    this.#changed({ incidents: true, put: true });
  }

  /** How many incidents seen on the stream the server has not reported yet. */
  provisionalCount() {
    let n = 0;
    for (const incident of this.incidents.values()) {
      if (incident.provisional && ACTIVE.has(incident.status)) n++;
    }
    return n;
  }

  /** Forgets everything (the session ended). */
  clear() {
    this.alerts.clear();
    this.incidents.clear();
    this.fresh.clear();
    this.lastSeq = 0;
    this.#changed({ cleared: true });
  }

  activeIncidents() {
    return [...this.incidents.values()]
      .filter((i) => ACTIVE.has(i.status))
      .sort((a, b) => (b.last_seq ?? 0) - (a.last_seq ?? 0));
  }

  recentAlerts() {
    return [...this.alerts.values()].sort((a, b) => b.seq - a.seq);
  }

  /** An alert's lifecycle status: its incident's when known. */
  statusOf(alert) {
    const incident = this.incidents.get(alert.citizen);
    if (incident && (incident.alert_ids?.includes(alert.alert_id) || alert.seq >= incident.first_seq)) {
      return incident.status;
    }
    return alert.status ?? "open";
  }

  #attach(alert) {
    const current = this.incidents.get(alert.citizen);
    if (current && ACTIVE.has(current.status)) {
      if (current.alert_ids?.includes(alert.alert_id)) return;
      const rank = (s) => SEVERITY_RANK[s] ?? 0;
      this.incidents.set(alert.citizen, {
        ...current,
        count: current.count + 1,
        severity: rank(alert.severity) > rank(current.severity) ? alert.severity : current.severity,
        peacescore: Math.min(current.peacescore, alert.peacescore),
        lat: alert.lat,
        lon: alert.lon,
        drone_id: alert.drone_id,
        last_seen: alert.ts,
        updated_at: alert.raised_at,
        last_seq: alert.seq,
        alert_ids: [...(current.alert_ids ?? []), alert.alert_id].slice(-100),
      });
    } else {
      this.incidents.set(alert.citizen, {
        incident_id: null,
        provisional: true,
        created: Date.now(),
        citizen: alert.citizen,
        status: "open",
        severity: alert.severity,
        peacescore: alert.peacescore,
        count: 1,
        lat: alert.lat,
        lon: alert.lon,
        drone_id: alert.drone_id,
        first_seen: alert.ts,
        last_seen: alert.ts,
        opened_at: alert.raised_at,
        updated_at: alert.raised_at,
        first_seq: alert.seq,
        last_seq: alert.seq,
        alert_ids: [alert.alert_id],
      });
    }
    this.fresh.add(alert.citizen);
  }

  #trim() {
    if (this.alerts.size <= MAX_ALERTS) return;
    const keep = [...this.alerts.keys()].sort((a, b) => b - a).slice(0, MAX_ALERTS);
    const kept = new Set(keep);
    for (const seq of this.alerts.keys()) if (!kept.has(seq)) this.alerts.delete(seq);
  }

  #changed(detail) {
    this.dispatchEvent(new CustomEvent("change", { detail }));
  }
}
