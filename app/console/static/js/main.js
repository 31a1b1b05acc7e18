// The console's start: sign in (or resume the tab's session), then the shell (who you are, the pages your
// role may use, the notices under the header) and the page the URL names.

import * as api from "./api.js";
import { add, fill, h } from "./dom.js";
import { noticeArea, refreshNotices } from "./notices.js";
import { follow, link, match, navigate, stop } from "./router.js";
import { can, currentUser, forget, loadMe } from "./session.js";
import { problem } from "./ui.js";
import * as deadLetters from "./pages/dead-letters.js";
import * as metrics from "./pages/metrics.js";
import * as pipeline from "./pages/pipeline.js";
import * as pipelines from "./pages/pipelines.js";
import * as review from "./pages/review.js";
import * as reviews from "./pages/reviews.js";
import * as run from "./pages/run.js";
import * as runs from "./pages/runs.js";
import * as settings from "./pages/settings.js";
import * as signIn from "./pages/sign-in.js";

const HOME = "/reviews";
const ROUTES = [
  ["/reviews", reviews],
  ["/reviews/:entityType/:entityId", review],
  ["/runs", runs],
  ["/runs/:id", run],
  ["/pipelines", pipelines],
  ["/pipelines/:id", pipeline],
  ["/dead-letters", deadLetters],
  ["/metrics", metrics],
  ["/settings", settings],
  ["/settings/:section", settings],
];
const NAV = [
  ["/reviews", "Reviews"],
  ["/runs", "Runs"],
  ["/pipelines", "Pipelines"],
  ["/dead-letters", "Dead letters"],
  ["/metrics", "Cost & quality"],
  ["/settings", "Settings", "manage_tenant"],
];

const root = document.getElementById("app");
let pageController = null;

api.onSignedOut((ended) => showSignIn(ended.message));
start();

async function start() {
  if (!api.hasSession()) return showSignIn();
  try {
    await loadMe();
  } catch (error) {
    return showSignIn(error instanceof api.SignedOut ? error.message : null);
  }
  showConsole();
}

function showSignIn(message) {
  stop();
  pageController?.abort();
  forget();
  fill(root, signIn.render({ message, onSignedIn: async () => {
    await loadMe();
    showConsole();
  } }));
}

function showConsole() {
  const me = currentUser();
  const view = h("main", { id: "view" });
  const nav = h("nav", { class: "nav" }, NAV
    .filter(([, , permission]) => !permission || can(permission))
    .map(([path, text]) => h("a", { href: link(path), "data-path": path }, text)));
  const signOut = h("button", { type: "button", class: "link" }, "Sign out");
  signOut.addEventListener("click", async () => {
    await api.signOut();
    showSignIn("You have signed out.");
  });
  const header = h("header", { class: "top" },
    h("a", { class: "brand", href: link(HOME) }, "Agentline"),
    nav,
    h("div", { class: "whoami" },
      h("span", { class: "who" }, me.name || me.email || "API key"),
      h("span", { class: "role" }, me.role),
      h("span", { class: "tenant", title: "Tenant" }, me.tenant_slug),
      signOut));
  fill(root, header, noticeArea(), view);
  follow((location) => showPage(view, nav, location));
}

async function showPage(view, nav, { path, query }) {
  pageController?.abort();
  const controller = new AbortController();
  pageController = controller;
  const found = match(ROUTES, path);
  if (!found && path === "/") return navigate(HOME, { replace: true });
  refreshNotices();
  if (!found) return fill(view, h("h1", {}, "Not found"), h("p", {}, "No page of the console has this address."));
  for (const item of nav.querySelectorAll("a")) {
    item.classList.toggle("active", path.startsWith(item.dataset.path));
  }
  // Each page renders into its own element: a page still loading when the person moves on writes into
  // an element that is no longer shown.
  const page = h("div", { class: "page" });
  fill(view, page);
  try {
    await found.page.render(page, { params: found.params, query, signal: controller.signal });
  } catch (error) {
    if (!controller.signal.aborted && !(error instanceof api.SignedOut)) add(page, problem(error));
  }
}
