// The live map: open incidents (from the store, so live with the stream) and the last known
// position of the drones that reported in the last minutes (polled while the map is shown).

import { getJSON } from "./api.js";
import { baseMap } from "./basemap.js";
import { el, setText } from "./dom.js";
import { ago, position } from "./format.js";

const DRONE_POLL_MS = 5000;
const DRONE_MINUTES = 5;
const COLORS = { critical: "#c62828", major: "#ef6c00", minor: "#f2b705" };

export class LiveMap {
  constructor(container, config, store) {
    this.container = container;
    this.config = config;
    this.store = store;
    this.map = null;
    this.incidents = new Map(); // citizen -> marker
    this.drones = new Map(); // drone id -> marker
    this.fitted = false;
    this.visible = false;
    this.timer = null;
    store.addEventListener("change", () => this.visible && this.drawIncidents());
  }

  async show() {
    this.visible = true;
    if (this.map === null) {
      this.map = await baseMap(this.container, this.config);
      const L = window.L;
      // Incidents above drones, critical ones above the rest.
      this.map.createPane("drones").style.zIndex = 410;
      this.map.createPane("incidents").style.zIndex = 420;
      this.droneLayer = L.layerGroup().addTo(this.map);
      this.incidentLayer = L.layerGroup().addTo(this.map);
    }
    this.map.invalidateSize();
    this.drawIncidents();
    await this.pollDrones();
  }

  hide() {
    this.visible = false;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Removes every marker (the session ended); the next `show()` draws afresh. */
  forget() {
    for (const marker of [...this.incidents.values(), ...this.drones.values()]) marker.remove();
    this.incidents.clear();
    this.drones.clear();
    this.fitted = false;
    setText("map-status", "");
  }

  drawIncidents() {
    if (this.map === null) return;
    const L = window.L;
    const active = this.store.activeIncidents();
    const seen = new Set();
    for (const incident of active) {
      seen.add(incident.citizen);
      const style = {
        radius: 7 + Math.min(10, Math.log2(incident.count) * 2),
        color: incident.status === "acknowledged" ? "#5b6b7f" : "#ffffff",
        weight: 2,
        fillColor: COLORS[incident.severity] ?? COLORS.minor,
        fillOpacity: incident.status === "acknowledged" ? 0.55 : 0.95,
      };
      let marker = this.incidents.get(incident.citizen);
      if (!marker) {
        marker = L.circleMarker([incident.lat, incident.lon], { ...style, pane: "incidents" });
        marker.addTo(this.incidentLayer);
        this.incidents.set(incident.citizen, marker);
      } else {
        marker.setLatLng([incident.lat, incident.lon]);
        marker.setStyle(style);
      }
      tip(marker, incidentTip(incident));
      if (incident.severity === "critical") marker.bringToFront();
    }
    for (const [citizen, marker] of this.incidents) {
      if (!seen.has(citizen)) {
        marker.remove();
        this.incidents.delete(citizen);
      }
    }
    this.#fit();
  }

  async pollDrones() {
    clearTimeout(this.timer);
    if (!this.visible) return;
    try {
      const answer = await getJSON("/api/v1/drones/active", { minutes: DRONE_MINUTES });
      this.drawDrones(answer.drones);
      setText("map-status", `${answer.count} drones active · ${this.incidents.size} incidents shown`);
    } catch (error) {
      setText("map-status", `drone positions unavailable: ${error.message}`);
    }
    if (this.visible) this.timer = setTimeout(() => this.pollDrones(), DRONE_POLL_MS);
  }

  drawDrones(drones) {
    const L = window.L;
    const seen = new Set();
    for (const drone of drones) {
      seen.add(drone.drone_id);
      let marker = this.drones.get(drone.drone_id);
      if (!marker) {
        marker = L.circleMarker([drone.lat, drone.lon], {
          pane: "drones", radius: 4, color: "#1d4fb8", weight: 1, fillColor: "#2f6fed", fillOpacity: 0.8,
        }).addTo(this.droneLayer);
        this.drones.set(drone.drone_id, marker);
      } else {
        marker.setLatLng([drone.lat, drone.lon]);
      }
      tip(marker, droneTip(drone));
    }
    for (const [id, marker] of this.drones) {
      if (!seen.has(id)) {
        marker.remove();
        this.drones.delete(id);
      }
    }
    this.#fit();
  }

  #fit() {
    if (this.fitted) return;
    const points = [...this.incidents.values(), ...this.drones.values()].map((m) => m.getLatLng());
    if (points.length === 0) return;
    this.fitted = true;
    this.map.fitBounds(window.L.latLngBounds(points).pad(0.15), { maxZoom: 11 });
  }
}

/** Tooltips get an element, never a string: Leaflet would render a string as HTML. */
function tip(marker, content) {
  if (marker.getTooltip()) marker.setTooltipContent(content);
  else marker.bindTooltip(content);
}

function incidentTip(i) {
  return el("div", {},
    el("div", { class: "map-tip-title", text: i.citizen }),
    el("div", { text: `${i.severity} · peacescore ${i.peacescore} · ${i.count} alert(s)` }),
    el("div", { text: `${i.status} · drone ${i.drone_id}` }),
    el("div", { text: `${position(i.lat, i.lon)} · last alert ${ago(i.updated_at)}` }));
}

function droneTip(d) {
  return el("div", {},
    el("div", { class: "map-tip-title", text: d.drone_id }),
    el("div", { text: position(d.lat, d.lon) }),
    el("div", { text: `last report ${ago(d.seen_at)}` }));
}
