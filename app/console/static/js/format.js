// How values read on screen: dates in the reader's locale, durations, money, counts and short ids.

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000], ["second", 1000]];

export function dateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** "in 3 hours", "5 minutes ago". */
export function relative(iso, now = Date.now()) {
  if (!iso) return "";
  const delta = new Date(iso).getTime() - now;
  const [unit, size] = UNITS.find(([, ms]) => Math.abs(delta) >= ms) ?? UNITS[UNITS.length - 1];
  return relativeFormat.format(Math.round(delta / size), unit);
}

export function isPast(iso, now = Date.now()) {
  return Boolean(iso) && new Date(iso).getTime() < now;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function between(startIso, endIso) {
  if (!startIso || !endIso) return "";
  return duration(new Date(endIso) - new Date(startIso));
}

export function count(value) {
  return value === null || value === undefined ? "" : Number(value).toLocaleString();
}

export function percent(share) {
  return share === null || share === undefined ? "–" : `${(share * 100).toFixed(share < 0.1 && share > 0 ? 1 : 0)} %`;
}

/** Costs come as decimal strings in US dollars ("0.00123400"): cents when they are cents, else more digits. */
export function usd(amount) {
  const value = Number(amount ?? 0);
  return `$${value === 0 || value >= 1 ? value.toFixed(2) : value.toPrecision(3)}`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}

export function label(name) {
  return String(name).replaceAll("_", " ");
}
