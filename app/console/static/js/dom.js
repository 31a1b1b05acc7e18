// Building the DOM without parsing markup: every string becomes a text node, so data from the API (agent
// output included) is shown as text, never run. No markup is ever parsed from a string.

const SVG_NS = "http://www.w3.org/2000/svg";

/** h("a", {href: "/console/runs", class: "nav"}, "Runs"): an element, its attributes and its children. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements (the charts). */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

// A control's live state (`value`, `checked`) is set once its children are there: a <select> takes the
// value of one of its options.
const STATE = new Set(["value", "checked"]);

function build(element, attrs, children) {
  const entries = Object.entries(attrs ?? {});
  for (const [name, value] of entries) {
    if (!STATE.has(name)) setAttribute(element, name, value);
  }
  element.append(...nodes(children));
  for (const [name, value] of entries) {
    if (STATE.has(name) && value !== null && value !== undefined) element[name] = value;
  }
  return element;
}

function setAttribute(element, name, value) {
  if (value === null || value === undefined || value === false) return;
  if (name.startsWith("on")) {
    if (typeof value !== "function") throw new TypeError(`${name} must be a function`);
    element.addEventListener(name.slice(2), value);
  } else if (name === "style") {
    throw new TypeError("inline styles are refused by the console's Content-Security-Policy; use a class");
  } else if (name === "href" && !/^\/(?!\/)/.test(String(value))) {
    throw new TypeError(`links stay on this origin: ${value}`);
  } else {
    element.setAttribute(name, value === true ? "" : String(value));
  }
}

/** Replaces the children of `element`, given as h() takes them. */
export function fill(element, ...children) {
  element.replaceChildren(...nodes(children));
  return element;
}

/** Appends to `element` children given as h() takes them. */
export function add(element, ...children) {
  element.append(...nodes(children));
  return element;
}

// Children: nodes, or anything else as text; nested arrays flattened; null, undefined and false left out.
function nodes(children) {
  return children.flat(Infinity)
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : document.createTextNode(String(child))));
}
