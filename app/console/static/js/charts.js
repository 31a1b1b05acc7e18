// Charts drawn as SVG by this module: bars per day (stacked series), lines per day, and one bar of shares.
// Colours come from the stylesheet through each series' class; every mark has a <title> to hover.

import { h, svg } from "./dom.js";

const WIDTH = 640;
const HEIGHT = 180;
const PAD = { top: 12, right: 12, bottom: 24, left: 56 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;
const X_LABELS = 6;

/** Stacked bars, one per day; `series` are {name, className, values (one per day)}. */
export function barChart({ title, days, series, format = String }) {
  const totals = days.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  if (!totals.some((total) => total > 0)) return empty(title);
  const top = niceMax(Math.max(...totals));
  const band = PLOT_W / days.length;
  const width = Math.max(1, band * 0.7);
  const marks = [];
  days.forEach((day, i) => {
    let base = 0;
    for (const s of series) {
      const value = s.values[i] ?? 0;
      if (!value) continue;
      const y0 = y(base, top);
      const y1 = y(base + value, top);
      marks.push(svg("rect", { class: s.className, x: PAD.left + i * band + (band - width) / 2, y: y1, width, height: y0 - y1 },
        svg("title", {}, `${dayLabel(day)} · ${s.name}: ${format(value)}`)));
      base += value;
    }
  });
  return figure(title, series, frame(title, days, top, format, marks));
}

/** Lines, one point per day; a null value leaves a gap. */
export function lineChart({ title, days, series, format = String }) {
  const values = series.flatMap((s) => s.values).filter((value) => value !== null && value !== undefined);
  if (!values.length) return empty(title);
  const top = niceMax(Math.max(...values));
  const band = PLOT_W / days.length;
  const x = (i) => PAD.left + i * band + band / 2;
  const marks = [];
  for (const s of series) {
    let run = [];
    const flush = () => {
      if (run.length > 1) marks.push(svg("polyline", { class: `line ${s.className}`, points: run.join(" ") }));
      run = [];
    };
    s.values.forEach((value, i) => {
      if (value === null || value === undefined) return flush();
      run.push(`${x(i)},${y(value, top)}`);
      marks.push(svg("circle", { class: s.className, cx: x(i), cy: y(value, top), r: 3 },
        svg("title", {}, `${dayLabel(days[i])} · ${s.name}: ${format(value)}`)));
    });
    flush();
  }
  return figure(title, series, frame(title, days, top, format, marks));
}

/** One horizontal bar split into shares; `parts` are {name, className, value}. */
export function shareBar({ title, parts }) {
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  if (!total) return empty(title);
  let x = 0;
  const marks = parts.filter((part) => part.value > 0).map((part) => {
    const width = (part.value / total) * WIDTH;
    const mark = svg("rect", { class: part.className, x, y: 0, width, height: 24 },
      svg("title", {}, `${part.name}: ${part.value} of ${total}`));
    x += width;
    return mark;
  });
  const chart = svg("svg", { class: "chart share", viewBox: `0 0 ${WIDTH} 24`, role: "img", "aria-label": title }, marks);
  return figure(title, parts.map((part) => ({ ...part, name: `${part.name} ${part.value}` })), chart);
}

function frame(title, days, top, format, marks) {
  const grid = [0, top / 2, top].map((value) => [
    svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value, top), y2: y(value, top) }),
    svg("text", { class: "axis", x: PAD.left - 6, y: y(value, top) + 4, "text-anchor": "end" }, format(value)),
  ]);
  const step = Math.max(1, Math.ceil(days.length / X_LABELS));
  const band = PLOT_W / days.length;
  const labels = days.map((day, i) => (i % step === 0
    ? svg("text", { class: "axis", x: PAD.left + i * band + band / 2, y: HEIGHT - 6, "text-anchor": "middle" }, dayLabel(day))
    : null));
  return svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": title }, grid, marks, labels);
}

function figure(title, series, chart) {
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart,
    h("ul", { class: "legend" }, series.map((s) => h("li", {}, svg("svg", { class: "swatch", viewBox: "0 0 10 10" },
      svg("rect", { class: s.className, width: 10, height: 10 })), s.name))));
}

function empty(title) {
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), h("p", { class: "muted" }, "Nothing in this period."));
}

function y(value, top) {
  return PAD.top + PLOT_H * (1 - value / top);
}

/** The smallest 1, 2 or 5 × 10^n at or above `value`. */
function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= value);
}

function dayLabel(day) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
}
