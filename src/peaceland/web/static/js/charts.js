// One statistic drawn: Chart.js for bars and lines, a Leaflet grid for the heat map.
// Labels are drawn on canvas or set as text, never parsed as HTML.

import { baseMap } from "./basemap.js";
import { el } from "./dom.js";
import { label } from "./format.js";

const SEVERITY_COLORS = { critical: "#c62828", major: "#ef6c00", minor: "#f2b705" };
const COLOR = "#2f6fed";

/** Draws `rows` in `box` as `spec` says; returns `{destroy()}`. */
export function drawStat(box, spec, rows, config) {
  return spec.kind === "heatmap" ? heatMap(box, spec, rows, config) : chart(box, spec, rows);
}

/** A number, also from a string (large integers and decimals come as strings), or null. */
export function toNumber(value) {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
    return Number(value);
  }
  return null;
}

function isShare(column) {
  return /share$/.test(column ?? "");
}

function formatValue(column, raw) {
  const value = toNumber(raw);
  if (value === null) return String(raw ?? "–");
  if (isShare(column)) return `${(value * 100).toFixed(1)} %`;
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(2);
}

function chart(box, spec, rows) {
  const canvas = el("canvas");
  box.append(canvas);
  const horizontal = spec.kind === "barh";
  // Horizontal bars get room for every label.
  box.style.height = horizontal ? `${Math.max(260, 60 + rows.length * 16)}px` : "";
  const values = rows.map((r) => toNumber(r[spec.y]));
  const colors = spec.x === "severity"
    ? rows.map((r) => SEVERITY_COLORS[r.severity] ?? COLOR)
    : COLOR;
  const valueAxis = {
    beginAtZero: true,
    title: { display: true, text: spec.y },
    ticks: isShare(spec.y) ? { callback: (v) => `${Math.round(v * 100)} %` } : { precision: 0 },
  };
  const categoryAxis = { title: { display: true, text: spec.x }, ticks: { autoSkip: !horizontal } };
  const instance = new window.Chart(canvas, {
    type: spec.kind === "line" ? "line" : "bar",
    data: {
      labels: rows.map((r) => label(r[spec.x])),
      datasets: [{
        label: spec.y,
        data: values,
        backgroundColor: colors,
        borderColor: COLOR,
        pointRadius: rows.length > 60 ? 0 : 3,
        tension: 0.2,
      }],
    },
    options: {
      indexAxis: horizontal ? "y" : "x",
      animation: false,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (ctx) => `${spec.y}: ${formatValue(spec.y, ctx.raw)}` } },
      },
      scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
    },
  });
  return { destroy: () => instance.destroy() };
}

function heatMap(box, spec, rows, config) {
  const L = window.L;
  const div = el("div", { class: "map-box" });
  box.style.height = "360px";
  box.append(div);
  let map = null;
  let destroyed = false;
  const ready = baseMap(div, config, { center: [46.6, 2.5], zoom: 5 }).then((m) => {
    map = m;
    if (destroyed) {
      m.remove();
      return;
    }
    const cell = config.heatmap_cell_degrees || 0.25;
    const column = spec.value ?? "agitated";
    const max = Math.max(1, ...rows.map((r) => toNumber(r[column]) ?? 0));
    const renderer = L.canvas();
    const bounds = [];
    for (const r of rows) {
      const value = toNumber(r[column]) ?? 0;
      const corner = [toNumber(r[spec.y]), toNumber(r[spec.x])];
      if (corner[0] === null || corner[1] === null) continue;
      const rect = [corner, [corner[0] + cell, corner[1] + cell]];
      bounds.push(...rect);
      const color = heat(value / max);
      L.rectangle(rect, {
        renderer,
        color,
        weight: 1,
        opacity: value > 0 ? 0.9 : 0.3,
        fillColor: color,
        fillOpacity: value > 0 ? 0.45 + 0.5 * (value / max) : 0.2,
      }).bindTooltip(el("div", {},
        el("div", { class: "map-tip-title", text: `${column}: ${formatValue(column, value)}` }),
        el("div", { text: `of ${formatValue("sightings", r.sightings)} sightings` }),
        el("div", { text: `cell ${corner[0]}°, ${corner[1]}°` }))).addTo(m);
    }
    if (bounds.length) m.fitBounds(L.latLngBounds(bounds).pad(0.1), { maxZoom: 9, animate: false });
  });
  return {
    ready,
    destroy: () => {
      destroyed = true;
      if (map !== null) map.remove();
    },
  };
}

/** Grey-green for 0 (cells watched, nothing agitated), then yellow (low) to dark red (high). */
function heat(t) {
  if (!(t > 0)) return "hsl(150, 20%, 55%)";
  const clamped = Math.min(1, t);
  const hue = 50 - 50 * clamped;
  const light = 55 - 22 * clamped;
  return `hsl(${hue}, 95%, ${light}%)`;
}
