// The analytics time range: presets, or a custom start and end checked before asking. Pure.

export const PRESETS = ["1h", "6h", "24h", "7d", "30d", "all"];
const EARLIEST = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;

export class RangeProblem extends Error {}

/** `{since, until}` for the API: an age such as "24h" (the server counts it back), or nulls. */
export function presetRange(preset) {
  if (!PRESETS.includes(preset)) throw new RangeProblem(`unknown range ${preset}`);
  return preset === "all" ? { since: null, until: null } : { since: preset, until: null };
}

/**
 * `{since, until}` (RFC 3339, UTC) from two `datetime-local` values (local time; either may
 * be empty for an open end), or a `RangeProblem` saying what is wrong in plain words.
 */
export function customRange(sinceText, untilText, now = Date.now()) {
  const since = parseLocal(sinceText, "start");
  const until = parseLocal(untilText, "end");
  if (since === null && until === null) throw new RangeProblem("Enter a start, an end or both.");
  if (since !== null && until !== null && since >= until) {
    throw new RangeProblem("The start must be before the end.");
  }
  for (const [name, time] of [["start", since], ["end", until]]) {
    if (time === null) continue;
    if (time < EARLIEST) {
      throw new RangeProblem(`The ${name} is before 2000: no drone reported then. Check the year.`);
    }
    if (time > now + 366 * DAY_MS) {
      throw new RangeProblem(`The ${name} is more than a year from now. Check the year.`);
    }
  }
  if (since !== null && since > now) {
    throw new RangeProblem("The start is in the future: there is nothing to show yet.");
  }
  return {
    since: since === null ? null : new Date(since).toISOString(),
    until: until === null ? null : new Date(until).toISOString(),
  };
}

function parseLocal(text, name) {
  const value = (text ?? "").trim();
  if (value === "") return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) {
    throw new RangeProblem(`The ${name} is not a date and time.`);
  }
  const ms = new Date(value).getTime(); // local time, as the picker shows it
  if (Number.isNaN(ms)) throw new RangeProblem(`The ${name} is not a date and time.`);
  return ms;
}
