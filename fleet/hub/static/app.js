// The fleet dashboard: the hub's report as a matrix, a cluster page and an env page, kept live by the
// hub's event stream. No library and no build step. Everything shown comes from the fleet repository or
// the clusters, so it is written with textContent only (never as HTML). The API token stays in this tab's
// sessionStorage and is sent only in the Authorization header of actions.
"use strict";

const SYNC = {
  Synced: ["✓", "ok"],
  OutOfSync: ["≠", "warn"],
  Unknown: ["?", "unknown"],
};
const HEALTH = {
  Healthy: ["♥", "ok"],
  Progressing: ["↻", "info"],
  Degraded: ["✗", "bad"],
  Missing: ["∅", "warn"],
  Unknown: ["?", "unknown"],
  Unreachable: ["⊘", "bad"],
};
const STATES = ["all", "not ok", "OutOfSync", "Degraded", "Progressing", "Missing", "Unreachable", "Unknown"];

const filters = { env: "", selector: "", state: "all" };
let current = null; // the view being shown: { render: async () => void }
let refreshing = null;
let again = false;

// ---- small helpers -----------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function badge(table, label, field) {
  const [icon, tone] = table[label] || ["?", "unknown"];
  // One element with one text node: a matrix of thousands of badges stays cheap to lay out. The icon is
  // decoration; the word says the state (screen readers read both, which is harmless).
  return el("span", { class: `badge ${tone}`, "data-field": field, "data-state": label, text: `${icon} ${label}` });
}

function short(revision) {
  return revision ? String(revision).slice(0, 12) : "—";
}

function age(stamp) {
  if (!stamp) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(stamp)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)}s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86400)}d ago`;
}

function brief(value) {
  if (value === undefined) return "(absent)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function releaseText(release) {
  if (!release) return "—";
  const values = release.values && Object.keys(release.values).length ? ` ${JSON.stringify(release.values)}` : "";
  return `${short(release.revision)}${values}`;
}

function healthLabel(cluster) {
  return cluster.error && cluster.errorSince ? "Unreachable" : cluster.health.status;
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function toast(message, tone) {
  const box = document.getElementById("toast");
  box.className = tone || "";
  box.textContent = message;
}

function section(title, ...children) {
  return el("section", {}, el("h2", { text: title }), ...children);
}

function table(headers, rows, attrs) {
  return el("table", attrs || {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows));
}

function show(...nodes) {
  const view = document.getElementById("view");
  view.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

// ---- token and actions ---------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem("fleet-token") || "";
}

function showTokenState() {
  const has = Boolean(token());
  document.getElementById("token-forget").hidden = !has;
  document.getElementById("token").placeholder = has ? "token set for this tab" : "needed for actions";
}

async function syncNow(cluster) {
  const response = await fetch("/api/v1/sync", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token()}` },
    body: JSON.stringify({ clusters: [cluster] }),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 202) toast(`sync of ${cluster} requested`, "ok");
  else if (response.status === 401) toast("sync refused: set the API token first (top right)", "bad");
  else toast(`sync refused: ${data.error || response.status}`, "bad");
}

// ---- the matrix -------------------------------------------------------------------------------------

function matrixQuery() {
  const query = new URLSearchParams({ brief: "1" });
  if (filters.env) query.set("env", filters.env);
  if (filters.selector) query.set("selector", filters.selector);
  return `?${query.toString()}`;
}

function wanted(cluster) {
  const health = healthLabel(cluster);
  switch (filters.state) {
    case "all": return true;
    case "not ok": return Boolean(cluster.why);
    case "OutOfSync": return cluster.sync === "OutOfSync";
    default: return health === filters.state;
  }
}

function summaryBar(summary) {
  const states = Object.entries(summary.states || {}).map(([name, count]) =>
    el("li", { "data-state": name }, el("strong", { text: count }), ` ${name}`));
  return el("ul", { class: "summary", "aria-label": "summary" },
    el("li", {}, el("strong", { text: summary.clusters }), " clusters"),
    el("li", {}, el("strong", { text: summary.ok }), " Synced and Healthy"), ...states);
}

let filterNode = null; // kept across live refreshes, so that typing in it is never interrupted
let filterKey = "";

function filterBar(envs) {
  const key = envs.join(",");
  if (filterNode && filterKey === key) return filterNode;
  filterKey = key;
  const envSelect = el("select", { id: "filter-env", onchange: (e) => { filters.env = e.target.value; refresh(); } },
    el("option", { value: "", text: "all envs" }),
    ...envs.map((env) => el("option", { value: env, text: env, selected: filters.env === env })));
  const stateSelect = el("select", { id: "filter-state", onchange: (e) => { filters.state = e.target.value; refresh(); } },
    ...STATES.map((s) => el("option", { value: s, text: s, selected: filters.state === s })));
  const selector = el("input", {
    id: "filter-selector", type: "search", value: filters.selector, placeholder: "region=eu-west,tier!=canary",
    spellcheck: "false",
  });
  const form = el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); filters.selector = selector.value.trim(); refresh(); } },
    el("label", { for: "filter-env", text: "Env" }), envSelect,
    el("label", { for: "filter-selector", text: "Labels" }), selector,
    el("label", { for: "filter-state", text: "State" }), stateSelect,
    el("button", { type: "submit", text: "Filter" }));
  filterNode = form;
  return form;
}

function clusterRow(cluster) {
  const link = el("a", { href: `#/clusters/${encodeURIComponent(cluster.name)}`, text: cluster.name });
  return el("tr", { "data-cluster": cluster.name, class: cluster.why ? "attention" : "" },
    el("th", { scope: "row" }, link),
    el("td", {}, badge(SYNC, cluster.sync, "sync")),
    el("td", {}, badge(HEALTH, healthLabel(cluster), "health")),
    el("td", { class: "num", "data-field": "drift", text: cluster.drift }),
    el("td", { class: "mono", "data-field": "revision", title: cluster.appliedRevision || "", text: short(cluster.appliedRevision) }),
    el("td", { class: "mono", "data-field": "release", text: releaseText(cluster.release) }),
    el("td", { class: "why", "data-field": "why", text: cluster.why || "" }));
}

const FIRST_ROWS = 150; // rows drawn at once on a first render: more than a screen
const ROWS_PER_STEP = 400; // then added in steps, so the page shows and answers while the rest arrives
let matrixToken = 0;

async function renderMatrix() {
  const started = performance.now();
  const data = await getJSON(`/api/v1/fleet${matrixQuery()}`);
  header(data);
  const token = ++matrixToken;
  // A live refresh of a matrix on screen redraws it whole (no jump of the scroll position); a first
  // render draws the first rows at once and the others in steps.
  const progressive = document.body.dataset.view !== "matrix";
  const byEnv = new Map();
  for (const cluster of data.clusters) {
    if (!byEnv.has(cluster.env)) byEnv.set(cluster.env, []);
    byEnv.get(cluster.env).push(cluster);
  }
  const allEnvs = Object.keys(data.summary.envs || {});
  const groups = [];
  const later = []; // [tbody, clusters not drawn yet]
  let budget = progressive ? FIRST_ROWS : Infinity;
  for (const [env, clusters] of [...byEnv.entries()].sort()) {
    const shown = clusters.filter(wanted);
    const ok = clusters.filter((c) => !c.why).length;
    const rollout = (data.rollouts || []).find((r) => r.env === env);
    const note = rollout && rollout.state !== "complete" ? ` · rollout ${rollout.state}, wave ${rollout.wave}${rollout.reason ? `: ${rollout.reason}` : ""}` : "";
    const head = el("tr", { class: "env-head" },
      el("th", { colspan: 7, scope: "rowgroup" },
        el("a", { href: `#/envs/${encodeURIComponent(env)}`, text: env }),
        el("span", { class: "muted", "data-env-summary": env, text: ` ${ok}/${clusters.length} Synced and Healthy${note}` })));
    const body = el("tbody", { "data-env": env }, head);
    const now = shown.slice(0, Math.max(0, budget));
    budget -= now.length;
    body.append(...now.map(clusterRow));
    if (now.length < shown.length) later.push([body, shown.slice(now.length)]);
    groups.push(body);
  }
  const headers = ["Cluster", "Sync", "Health", "Drift", "Revision", "Release", "Why"];
  const matrix = el("table", { id: "matrix", class: "matrix" },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))), ...groups);
  const empty = data.clusters.length ? null : el("p", { class: "muted", text: "No cluster matches." });
  show(summaryBar(data.summary), filterBar(allEnvs), matrix, empty);
  document.body.dataset.view = "matrix";
  // For bench/dashboard.py: milliseconds since navigation when rows are in the page and painted.
  window.fleetMatrixMs = performance.now() - started;
  const first = window.fleetMatrixRenderedAt === undefined;
  if (first) {
    window.fleetMatrixRenderedAt = performance.now();
    requestAnimationFrame(() => { window.fleetMatrixPaintedAt = performance.now(); });
  }
  const finished = () => {
    if (window.fleetMatrixCompleteAt === undefined) window.fleetMatrixCompleteAt = performance.now();
    document.body.dataset.rendered = String(Date.now());
  };
  const step = () => {
    if (token !== matrixToken) return; // a newer render replaced this one
    let room = ROWS_PER_STEP;
    while (later.length && room > 0) {
      const [body, rest] = later[0];
      const part = rest.splice(0, room);
      body.append(...part.map(clusterRow));
      room -= part.length;
      if (!rest.length) later.shift();
    }
    if (later.length) setTimeout(step, 0);
    else finished();
  };
  if (later.length) setTimeout(step, 0);
  else finished();
}

// ---- the cluster page ---------------------------------------------------------------------------------

function objectName(item) {
  // As fleet writes object keys everywhere else: Kind.group/namespace/name.
  return `${item.kind}${item.group ? `.${item.group}` : ""}/${item.namespace ? `${item.namespace}/` : ""}${item.name}`;
}

function fieldRows(item) {
  const name = objectName(item);
  if (!item.fields || !item.fields.length) {
    return [el("tr", { "data-object": name },
      el("td", { class: "mono", text: name }), el("td", { text: item.type }),
      el("td", { colspan: 5, text: item.message || "" }))];
  }
  return item.fields.map((field) => el("tr", { "data-object": name, "data-path": field.path },
    el("td", { class: "mono", text: name }),
    el("td", { text: item.type }),
    el("td", { class: "mono", "data-field": "path", text: field.path }),
    el("td", { class: "mono", "data-field": "desired", text: brief(field.desired) }),
    el("td", { class: "mono", "data-field": "live", text: brief(field.live) }),
    el("td", { "data-field": "manager", text: field.manager || "—" }),
    el("td", { text: field.time ? `${field.time} (${age(field.time)})` : "" })));
}

async function renderCluster(name) {
  const data = await getJSON(`/api/v1/clusters/${encodeURIComponent(name)}/drift`);
  const fleet = await getJSON(`/api/v1/fleet?brief=1&env=${encodeURIComponent(data.env)}`);
  header(fleet);
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Env" }), el("dd", {}, el("a", { href: `#/envs/${encodeURIComponent(data.env)}`, text: data.env })),
    el("dt", { text: "Labels" }), el("dd", { class: "mono", text: Object.entries(data.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "—" }),
    el("dt", { text: "Sync" }), el("dd", {}, badge(SYNC, data.sync, "sync")),
    el("dt", { text: "Health" }), el("dd", {}, badge(HEALTH, healthLabel(data), "health"),
      data.health.message ? ` ${data.health.object ? data.health.object + ": " : ""}${data.health.message}` : ""),
    el("dt", { text: "Git wants" }), el("dd", { class: "mono", text: short(data.revision) }),
    el("dt", { text: "Applied" }), el("dd", { class: "mono", text: short(data.appliedRevision) }),
    el("dt", { text: "Release" }), el("dd", { class: "mono", text: releaseText(data.release) }),
    el("dt", { text: "Last sync" }), el("dd", { "data-field": "last-sync",
      text: data.lastSync ? `${data.lastSync} (${age(data.lastSync)}, ${data.lastSyncDuration}s)` : "never by this hub" }),
    el("dt", { text: "Error" }), el("dd", { class: data.error ? "bad-text" : "", "data-field": "error",
      text: data.error ? `${data.error}${data.errorSince ? ` (since ${data.errorSince}, ${age(data.errorSince)})` : ""}` : "none" }));
  const button = el("button", { id: "sync-now", type: "button", onclick: () => syncNow(name) }, "Sync now");
  const drift = data.items.length
    ? table(["Object", "Drift", "Field", "Git wants", "Live", "Changed by", "When"], data.items.flatMap(fieldRows), { id: "drift" })
    : el("p", { id: "drift", class: "muted", text: "No drift: the cluster matches Git." });
  const objects = table(["Object", "Health", "Message"], data.objects.map((o) => el("tr", { "data-object": o.object },
    el("td", { class: "mono", text: o.object }), el("td", {}, badge(HEALTH, o.status, "health")),
    el("td", { text: o.message || "" }))), { id: "objects" });
  show(el("h1", {}, el("a", { href: "#/", text: "fleet" }), " / ", name),
    el("div", { class: "actions" }, button), facts,
    section(`Drift (${data.items.length})`, drift), section(`Objects (${data.objects.length})`, objects));
  document.body.dataset.view = "cluster";
  document.body.dataset.rendered = String(Date.now());
}

// ---- the env page ---------------------------------------------------------------------------------------

function rolloutView(rollout) {
  if (!rollout) return el("p", { class: "muted", text: "No rollout in progress or on record since the hub started." });
  const waves = rollout.waves.map((wave) => {
    const done = rollout.wavesDone.includes(wave);
    const state = done ? "done" : wave === rollout.wave ? rollout.state : "waiting";
    return el("tr", { "data-wave": wave },
      el("td", { text: `wave ${wave}` }), el("td", { "data-field": "wave-state", text: state }),
      el("td", { text: (rollout.members[String(wave)] || []).join(", ") }));
  });
  return el("div", { id: "rollout" },
    el("p", {}, "State: ", el("strong", { "data-field": "rollout-state", text: rollout.state }),
      `, wave ${rollout.wave}, release ${releaseText(rollout.release)}`, rollout.rolledBack ? " (rolled back)" : ""),
    rollout.reason ? el("p", { class: "banner bad", "data-field": "rollout-reason", text: `Halted: ${rollout.reason}` }) : null,
    table(["Wave", "State", "Clusters"], waves));
}

function historyView(records) {
  if (!records.length) return el("p", { class: "muted", text: "No promotion or rollback yet." });
  return table(["When", "Kind", "From", "Revision", "Gates", "Author", "Commit", "Message"], records.map((r) => {
    const gates = r.gates || [];
    const passed = gates.filter((g) => g.passed).length;
    const verdict = (gates.length ? `${passed}/${gates.length} passed` : "—") + (r.forced ? " (forced)" : "");
    const failing = gates.filter((g) => !g.passed).map((g) => `${g.cluster}: ${g.reason}`).join("; ");
    return el("tr", {},
      el("td", { text: r.when }), el("td", { text: r.kind }), el("td", { text: r.from || "—" }),
      el("td", { class: "mono", text: short(r.revision) }), el("td", { title: failing, text: verdict }),
      el("td", { text: r.author }), el("td", { class: "mono", text: short(r.commit) }), el("td", { text: r.message || "" }));
  }), { id: "history" });
}

function planView(env, envs, promotedFrom) {
  const choices = envs.filter((e) => e !== env);
  const select = el("select", { id: "plan-from" }, ...choices.map((e) => el("option", { value: e, text: e, selected: e === promotedFrom })));
  const output = el("div", { id: "plan", "aria-live": "polite" });
  const run = async () => {
    output.replaceChildren(el("p", { class: "muted", text: "Planning (server-side dry runs)…" }));
    try {
      const plan = await getJSON(`/api/v1/envs/${encodeURIComponent(env)}/plan?from=${encodeURIComponent(select.value)}`);
      const gates = table(["Cluster of " + plan.from, "Gate", "Reason"], plan.gates.map((g) => el("tr", {},
        el("td", { text: g.cluster }), el("td", {}, badge(g.passed ? { pass: ["✓", "ok"] } : { FAIL: ["✗", "bad"] }, g.passed ? "pass" : "FAIL", "gate")),
        el("td", { text: g.reason }))));
      const changes = plan.clusters.flatMap((c) => c.error
        ? [el("tr", {}, el("td", { text: c.cluster }), el("td", { colspan: 3, class: "bad-text", text: c.error }))]
        : c.objects.filter((o) => o.action !== "unchanged").map((o) => el("tr", {},
          el("td", { text: c.cluster }), el("td", { text: o.action }),
          el("td", { class: "mono", text: `${o.kind}/${o.namespace ? o.namespace + "/" : ""}${o.name}` }),
          el("td", { class: "mono", text: (o.diff || []).map((d) => `${d.path}: ${brief(d.live)} → ${brief(d.desired)}`).join("; ") }))));
      output.replaceChildren(
        el("p", { text: `${plan.from} → ${plan.to}: revision ${short(plan.pin.revision)} ${JSON.stringify(plan.pin.values)}` }),
        plan.refusal ? el("p", { class: "banner bad", text: `Gates refuse: ${plan.refusal}` }) : el("p", { class: "ok-text", text: "All gates pass." }),
        gates,
        changes.length ? table(["Cluster", "Action", "Object", "Change"], changes) : el("p", { class: "muted", text: "Nothing would change." }));
    } catch (error) {
      output.replaceChildren(el("p", { class: "banner bad", text: error.message }));
    }
  };
  if (!choices.length) return el("p", { class: "muted", text: "Only one env: nothing to promote from." });
  return el("div", {}, el("label", { for: "plan-from", text: "Promote from " }), select, " ",
    el("button", { type: "button", id: "plan-run", onclick: run, text: "Show plan" }), output);
}

async function renderEnv(env) {
  const data = await getJSON(`/api/v1/envs/${encodeURIComponent(env)}`);
  const fleet = await getJSON(`/api/v1/fleet?brief=1&env=${encodeURIComponent(env)}`);
  header(fleet);
  const pin = data.pin.error
    ? el("p", { class: "banner bad", text: data.pin.error })
    : el("p", { class: "mono", id: "pin", text: `revision ${short(data.pin.revision)} values ${JSON.stringify(data.pin.values)}` });
  const previous = document.getElementById("plan");
  show(el("h1", {}, el("a", { href: "#/", text: "fleet" }), " / env ", env),
    summaryBar(fleet.summary),
    section("Release pin", pin),
    section("Rollout", rolloutView(data.rollout)),
    section("Promotions and rollbacks", historyView(data.history)),
    section("Next promotion", previous && previous.dataset.env === env ? previous.parentElement : planView(env, data.envs, data.promotedFrom)));
  const plan = document.getElementById("plan");
  if (plan) plan.dataset.env = env;
  document.body.dataset.view = "env";
  document.body.dataset.rendered = String(Date.now());
}

// ---- routing and live updates -------------------------------------------------------------------------

let shownVersion = -1; // the hub's change version of the report last drawn

function header(data) {
  shownVersion = Math.max(shownVersion, data.version ?? -1);
  document.getElementById("revision").textContent = data.revision ? `revision ${short(data.revision)}` : "";
  const banner = document.getElementById("git-error");
  banner.hidden = !data.gitError;
  banner.textContent = data.gitError ? `Git: ${data.gitError}` : "";
}

function route() {
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const [kind, ...rest] = hash.split("/");
  const name = rest.join("/");
  if (kind === "clusters" && name) return { render: () => renderCluster(name) };
  if (kind === "envs" && name) return { render: () => renderEnv(name) };
  return { render: renderMatrix };
}

let announced = -1; // the newest change version the event stream told of

// Redraw the current view. While a redraw runs, a request for another is remembered: a person's (a
// filter) always redraws again; an event's only if it announced a version newer than what was drawn.
async function refresh(live = false) {
  if (refreshing) { again = again || !live; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      try {
        await current.render();
      } catch (error) {
        show(el("p", { class: "banner bad", role: "alert", text: error.message }));
        break; // the next event or navigation tries again
      }
    } while (again || announced > shownVersion);
    refreshing = null;
  })();
  return refreshing;
}

function navigate() {
  current = route();
  refresh().then(() => document.getElementById("view").focus({ preventScroll: true }));
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/v1/events");
  events.addEventListener("fleet", (event) => {
    live.textContent = "live";
    announced = Math.max(announced, Number(event.data));
    if (announced > shownVersion) refresh(true); // the first event often repeats what the page just drew
  });
  events.onopen = () => { live.textContent = "live"; };
  events.onerror = () => { live.textContent = "reconnecting…"; };
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("token");
    if (input.value) sessionStorage.setItem("fleet-token", input.value);
    input.value = "";
    showTokenState();
    toast("token kept for this tab", "ok");
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem("fleet-token");
    showTokenState();
    toast("token forgotten", "ok");
  });
  showTokenState();
  window.addEventListener("hashchange", navigate);
  navigate();
  listen();
});
