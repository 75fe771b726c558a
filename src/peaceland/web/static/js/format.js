// Times, ages and positions as officers read them. Pure.

/** "12 s", "3 min", "2 h 05", "4 d" between an RFC 3339 time and `now` (ms). */
export function age(iso, now = Date.now()) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "?";
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 0) return seconds > -5 ? "0 s" : `in ${duration(-seconds)}`;
  return duration(seconds);
}

export function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")}`;
  return `${Math.floor(hours / 24)} d`;
}

export function ago(iso, now = Date.now()) {
  const text = age(iso, now);
  return text.startsWith("in ") ? text : `${text} ago`;
}

/** "48.8566° N, 2.3522° E". */
export function position(lat, lon) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return "?";
  const ns = lat >= 0 ? "N" : "S";
  const ew = lon >= 0 ? "E" : "W";
  return `${Math.abs(lat).toFixed(4)}° ${ns}, ${Math.abs(lon).toFixed(4)}° ${ew}`;
}

/** "2026-11-28 10:15:00Z" from an RFC 3339 time (UTC). */
export function utc(iso) {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return String(iso ?? "");
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** Chart labels: "11-28 10:00" for times, the date for dates, the value otherwise. */
export function label(value) {
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString().slice(5, 16).replace("T", " ");
  }
  return value === null || value === undefined ? "–" : String(value);
}

export function number(value) {
  if (typeof value !== "number") return String(value ?? "–");
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(3);
}

export const SEVERITY_RANK = { minor: 0, major: 1, critical: 2 };

export function severityClass(severity) {
  return Object.hasOwn(SEVERITY_RANK, severity) ? `sev-${severity}` : "sev-minor";
}
