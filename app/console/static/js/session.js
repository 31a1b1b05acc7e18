// Who is signed in (GET /api/v1/me) and what their role may do. The console only hides what a role cannot
// do; the API decides (403) whatever the page shows.

import * as api from "./api.js";

const RANK = { viewer: 0, reviewer: 1, operator: 2, admin: 3, owner: 4 };
// As the API's permission table (app/auth/permissions.py) has them.
const MINIMUM_ROLE = {
  decide_reviews: "reviewer",
  operate_runs: "operator",
  write_data: "operator",
  manage_prompts: "admin",
  manage_tenant: "admin",
};

let me = null;
let userNames = null;

export async function loadMe() {
  me = await api.get("/me");
  userNames = null;
  return me;
}

export function currentUser() {
  return me;
}

export function forget() {
  me = null;
  userNames = null;
}

export function can(permission) {
  return me !== null && RANK[me.role] >= RANK[MINIMUM_ROLE[permission]];
}

export function isAdmin() {
  return me !== null && RANK[me.role] >= RANK.admin;
}

/** A user's name or email by id, from the tenant's users (read once). */
export async function userName(id, signal) {
  userNames ??= api.get("/users", undefined, { signal }).then(
    (users) => new Map(users.map((user) => [user.id, user.name || user.email])));
  return (await userNames).get(id) ?? id;
}
