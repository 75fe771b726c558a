// Analytics: every built-in statistic (GET /api/v1/stats) as a chart over a chosen time range.
// An empty archive gives empty charts with a message; a bad range, a message saying why.

import { ApiError, getJSON } from "./api.js";
import { drawStat } from "./charts.js";
import { byId, el } from "./dom.js";
import { utc } from "./format.js";
import { customRange, presetRange, RangeProblem } from "./timerange.js";

const AT_ONCE = 2; // the server runs two statistics at a time anyway

export class Analytics {
  constructor(config) {
    this.config = config;
    this.cards = null; // name -> card parts, once the list is known
    this.generation = 0;
    this.loaded = false;
    const preset = byId("range-preset");
    preset.addEventListener("change", () => {
      byId("range-custom").hidden = preset.value !== "custom";
      if (preset.value !== "custom") this.apply();
    });
    byId("range-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
  }

  async show() {
    if (!this.loaded) {
      this.loaded = true;
      await this.apply();
    }
  }

  /** Clears the charts (the session ended); the next `show()` reads them again. */
  forget() {
    this.generation++;
    this.loaded = false;
    for (const card of this.cards?.values() ?? []) card.drawn?.destroy();
    this.cards = null;
    byId("stats").replaceChildren();
    byId("range-message").textContent = "";
  }

  /** Reads the picker; null (with the reason shown) when the range is not usable. */
  range() {
    const message = byId("range-message");
    message.textContent = "";
    const preset = byId("range-preset").value;
    try {
      if (preset !== "custom") return presetRange(preset);
      return customRange(byId("range-since").value, byId("range-until").value);
    } catch (error) {
      if (!(error instanceof RangeProblem)) throw error;
      message.textContent = error.message;
      return null;
    }
  }

  async apply() {
    const range = this.range();
    if (range === null) return;
    const generation = ++this.generation;
    if (this.cards === null && !(await this.#build())) return;
    const queue = [...this.cards.values()];
    for (const card of queue) this.#message(card, "Loading…");
    const worker = async () => {
      while (queue.length && generation === this.generation) {
        await this.#load(queue.shift(), range, generation);
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, worker));
  }

  async #build() {
    let list;
    try {
      list = await getJSON("/api/v1/stats");
    } catch (error) {
      byId("range-message").textContent = `Statistics unavailable: ${error.message}`;
      return false;
    }
    this.cards = new Map();
    const grid = byId("stats");
    grid.replaceChildren();
    for (const stat of list.stats) {
      const spec = this.config.charts?.[stat.name] ?? fallbackSpec(stat);
      const card = {
        name: stat.name,
        spec,
        box: el("div", { class: "chart-box" }),
        message: el("div", { class: "stat-message" }),
        footer: el("div", { class: "stat-footer" }),
        drawn: null,
      };
      grid.append(el("section", { class: "card stat-card", dataset: { stat: stat.name } },
        el("h3", { text: spec.title || stat.name }),
        el("p", { class: "stat-description", text: stat.description }),
        card.box,
        card.footer));
      card.box.append(card.message);
      this.cards.set(stat.name, card);
    }
    return true;
  }

  async #load(card, range, generation) {
    let answer;
    try {
      answer = await getJSON(`/api/v1/stats/${encodeURIComponent(card.name)}`, range);
    } catch (error) {
      if (generation !== this.generation) return;
      this.#draw(card, []);
      const why = error instanceof ApiError && error.status === 400
        ? `This time range cannot be used: ${error.message}`
        : `Could not compute this statistic: ${error.message}`;
      this.#message(card, why, true);
      if (error instanceof ApiError && error.status === 400) {
        byId("range-message").textContent = error.message;
      }
      return;
    }
    if (generation !== this.generation) return;
    if (!card.spec.x && answer.columns.length >= 2) {
      card.spec = { ...card.spec, x: answer.columns[0], y: answer.columns[1] };
    }
    this.#draw(card, answer.rows);
    this.#message(card, answer.rows.length ? "" : "No data in this time range.");
    card.footer.textContent = `${answer.count} row(s) · ` +
      (answer.since ? `from ${utc(answer.since)}` : "from the beginning") +
      (answer.until ? ` to ${utc(answer.until)}` : " to now");
  }

  #draw(card, rows) {
    card.drawn?.destroy();
    for (const child of [...card.box.children]) if (child !== card.message) child.remove();
    card.drawn = drawStat(card.box, card.spec, rows, this.config);
  }

  #message(card, text, error = false) {
    card.message.textContent = text;
    card.message.className = error ? "stat-message error" : "stat-message";
    card.message.hidden = !text;
  }
}

/** When the page config has no chart for a statistic: a bar chart of its first two columns. */
function fallbackSpec(stat) {
  const kind = ["bar", "barh", "line"].includes(stat.plot) ? stat.plot : "bar";
  return { kind, x: null, y: null, title: stat.name };
}
