// The fleet view: drones active in the last minutes and reports per minute, polled while shown.

import { getJSON } from "./api.js";
import { byId, el, forgetOthers, reconcile, setText } from "./dom.js";
import { ago, label, position, utc } from "./format.js";

const POLL_MS = 5000;
const MAX_ROWS = 200;

export class FleetView {
  constructor() {
    this.visible = false;
    this.timer = null;
    this.chart = null;
    this.rows = new Map();
    byId("fleet-minutes").addEventListener("change", () => this.poll());
  }

  show() {
    this.visible = true;
    return this.poll();
  }

  hide() {
    this.visible = false;
    clearTimeout(this.timer);
  }

  /** Clears what was shown (the session ended); the next `show()` reads it again. */
  forget() {
    this.hide();
    this.rows.clear();
    byId("drones-body").replaceChildren();
    for (const id of ["kpi-active", "kpi-rate", "kpi-tracked"]) setText(id, "–");
    setText("fleet-status", "");
    setText("fleet-chart-note", "");
    this.chart?.destroy();
    this.chart = null;
  }

  async poll() {
    clearTimeout(this.timer);
    if (!this.visible) return;
    const minutes = Number(byId("fleet-minutes").value) || 5;
    try {
      const answer = await getJSON("/api/v1/drones/active", { minutes, limit: MAX_ROWS });
      this.draw(answer);
      setText("fleet-status", `updated ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      setText("fleet-status", `fleet unavailable: ${error.message} — retrying`);
    }
    if (this.visible) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  draw(answer) {
    setText("kpi-active", answer.count.toLocaleString("en"));
    setText("kpi-tracked", answer.tracked.toLocaleString("en"));
    const perMinute = answer.reports_per_minute;
    // The minute before the current one, if it was counted whole.
    const full = perMinute.length >= 2 ? perMinute[perMinute.length - 2] : null;
    const whole = full && Date.parse(full.minute) >= Date.parse(answer.tracking_since);
    setText("kpi-rate", whole ? full.reports.toLocaleString("en") : "counting…");
    this.#chart(perMinute);
    setText("fleet-chart-note",
      `Counted since ${utc(answer.tracking_since)} (when this server started following ` +
      "reports for this view); the last bar is the current minute.");
    reconcile(byId("drones-body"), answer.drones, {
      cache: this.rows,
      key: (d) => d.drone_id,
      create: (d) => el("tr", {}, el("td", { text: d.drone_id }), el("td"), el("td"), el("td"), el("td")),
      update: (row, d) => {
        const cells = row.children;
        cells[1].textContent = position(d.lat, d.lon);
        cells[2].textContent = ago(d.seen_at);
        cells[3].textContent = utc(d.ts);
        cells[4].textContent = String(d.reports);
      },
    });
    forgetOthers(this.rows, answer.drones.map((d) => d.drone_id));
    byId("drones-empty").hidden = answer.drones.length > 0;
  }

  #chart(perMinute) {
    const labels = perMinute.map((m) => label(m.minute).slice(6));
    const data = perMinute.map((m) => m.reports);
    if (this.chart === null) {
      this.chart = new window.Chart(byId("fleet-chart"), {
        type: "bar",
        data: { labels, datasets: [{ label: "reports", data, backgroundColor: "#2f6fed" }] },
        options: {
          animation: false,
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "reports / minute" } } },
        },
      });
    } else {
      this.chart.data.labels = labels;
      this.chart.data.datasets[0].data = data;
      this.chart.update();
    }
  }
}
