// Aviary's dashboard: one page, no framework, no third-party code. Data comes from /ui/api (JSON) and live from
// /ui/api/stream (server-sent events); charts are SVG drawn here. Nothing is written with innerHTML, so no text
// from a canary can become markup.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const $ = id => document.getElementById(id);
let session = { user: null, csrf: null, readOnly: true, anonymous: "view", runtime: "", tokenHint: "" };
let stream = null;
let rows = [];
let page = null;
let banner = null;
let updates = 0;

function put(...children) { $("main").replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false)); }

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

async function api(path, options) {
  const init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (init.method === "POST") {
    init.headers["Content-Type"] = "application/json";
    if (session.csrf) init.headers["X-CSRF-Token"] = session.csrf;
  }
  const response = await fetch(path, init);
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { status: response.status, ok: response.ok, body };
}

// ---- formatting

function age(iso) {
  if (!iso) return "";
  let s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60); s %= 60;
  if (m < 60) return `${m}m${s ? ` ${s}s` : ""}`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d`;
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const t = Math.round(seconds);
  return t < 60 ? `${t}s` : t < 3600 ? `${Math.floor(t / 60)}m ${t % 60}s` : `${Math.floor(t / 3600)}h ${Math.floor(t % 3600 / 60)}m`;
}
function clock(iso) { return new Date(iso).toLocaleTimeString([], { hour12: false }); }
function num(v, digits) {
  if (v === null || v === undefined) return "–";
  const d = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
  return Number(v).toFixed(d);
}
function threshold(c) {
  if (c.kind === "judge" && c.details) return `margin ${num(c.details.margin)} pp`;
  if (c.min !== null && c.min !== undefined && c.max !== null && c.max !== undefined) return `${num(c.min)}–${num(c.max)}`;
  if (c.min !== null && c.min !== undefined) return `≥ ${num(c.min)}`;
  if (c.max !== null && c.max !== undefined) return `≤ ${num(c.max)}`;
  return "";
}
function badge(phase, paused) {
  return [h("span", { class: `badge ${phase}`, "data-phase": phase }, phase), paused ? h("span", { class: "badge paused" }, "paused") : null];
}
function weightBar(weight, max) {
  const w = 120, fill = Math.round(w * Math.min(100, weight) / 100), cap = max ? Math.round(w * Math.min(100, max) / 100) : null;
  return h("span", {},
    s("svg", { class: "bar", width: w, height: 10, viewBox: `0 0 ${w} 10`, role: "img", "aria-label": `weight ${weight}%` },
      s("rect", { x: 0, y: 0, width: w, height: 10, rx: 5, fill: "#e6eaee" }),
      fill > 0 ? s("rect", { x: 0, y: 0, width: fill, height: 10, rx: 5, fill: "var(--canary)" }) : null,
      cap !== null && cap < w ? s("line", { x1: cap, x2: cap, y1: 0, y2: 10, stroke: "#8a96a3", "stroke-width": 1.5 }) : null),
    h("span", { class: "pct", "data-weight": weight }, `${weight}%`));
}
function lastCheck(c) {
  if (!c) return h("span", { class: "muted" }, "–");
  const value = c.value === null || c.value === undefined ? "" : ` ${num(c.value)}`;
  return h("span", { title: c.message || "" }, h("span", { class: c.result }, c.result === "Pass" ? "✓" : c.result === "Fail" ? "✗" : "?"), ` ${c.name}${value}`,
    h("span", { class: "muted" }, ` · ${age(c.time)} ago`));
}

// ---- charts

function chart({ series, yMin, yMax, height, unit, bands, steps, lines }) {
  const W = 380, H = height || 190, L = 36, R = 8, T = 8, B = 20;
  const pts = series.flatMap(x => x.points);
  const bandPts = (bands || []).flatMap(b => b.points);
  const times = pts.concat(bandPts).map(p => Date.parse(p.t));
  if (times.length === 0) return h("div", { class: "empty" }, "no data yet");
  let t0 = Math.min(...times), t1 = Math.max(...times);
  if (t1 - t0 < 1000) { t0 -= 30000; t1 += 30000; }
  const values = pts.map(p => p.v).concat(bandPts.flatMap(p => [p.lo, p.hi])).concat((lines || []).map(l => l.v)).filter(v => v !== null && v !== undefined);
  let lo = yMin ?? Math.min(0, ...values), hi = yMax ?? Math.max(...values, lo + 1);
  if (yMax === undefined) hi = hi + (hi - lo) * 0.1;
  const x = t => L + (W - L - R) * (Date.parse(t) - t0) / (t1 - t0);
  const y = v => T + (H - T - B) * (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo || 1));
  const g = [];
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    g.push(s("line", { class: "grid-line", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    g.push(s("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, `${num(v, hi - lo >= 10 ? 0 : 1)}${unit || ""}`));
  }
  g.push(s("text", { x: L, y: H - 6 }, clock(new Date(t0).toISOString())));
  g.push(s("text", { x: W - R, y: H - 6, "text-anchor": "end" }, clock(new Date(t1).toISOString())));
  for (const b of bands || []) {
    if (b.points.length === 0) continue;
    const top = b.points.map(p => `${x(p.t)},${y(p.hi)}`), bottom = b.points.slice().reverse().map(p => `${x(p.t)},${y(p.lo)}`);
    g.push(s("polygon", { points: top.concat(bottom).join(" "), fill: b.color, opacity: 0.18 }));
  }
  for (const l of lines || []) g.push(s("line", { x1: L, x2: W - R, y1: y(l.v), y2: y(l.v), stroke: l.color, "stroke-dasharray": "4 3", "stroke-width": 1.2 }));
  for (const sr of series) {
    if (sr.points.length === 0) continue;
    let d = "";
    sr.points.forEach((p, i) => {
      const px = x(p.t), py = y(p.v);
      if (i === 0) d += `M${px},${py}`;
      else d += steps ? `H${px}V${py}` : `L${px},${py}`;
    });
    g.push(s("path", { d, fill: "none", stroke: sr.color, "stroke-width": 2, "class": "series", "data-series": sr.name, "data-points": sr.points.length }));
    if (sr.dots) for (const p of sr.points)
      g.push(s("circle", { cx: x(p.t), cy: y(p.v), r: 3, fill: p.result === "Fail" ? "var(--bad)" : p.result === "NoData" ? "var(--warn)" : sr.color }, s("title", {}, `${clock(p.t)} ${num(p.v)}${unit || ""} ${p.result || ""}`)));
  }
  return s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img" }, g);
}
function legend(...items) { return h("div", { class: "legend" }, items.map(([cls, text]) => h("span", { class: cls }, text))); }

// ---- session and login

async function loadSession() {
  const r = await api("/ui/api/session");
  if (r.ok) session = r.body;
  $("runtime").textContent = session.runtime;
  const who = $("who");
  who.replaceChildren();
  if (session.user) {
    who.append(h("span", { id: "user" }, session.user), h("button", { id: "logout", onclick: logout }, "Log out"));
  } else {
    who.append(h("span", {}, session.readOnly ? "read-only" : "viewing without a token"), h("button", { id: "login-open", onclick: () => showLogin() }, "Log in"));
  }
}
function showLogin(message) {
  $("login-hint").textContent = `Paste ${session.tokenHint}.`;
  $("login-error").textContent = message || "";
  $("login-token").value = "";
  if (!$("login").open) $("login").showModal();
  $("login-token").focus();
}
$("login-cancel").addEventListener("click", () => $("login").close());
$("login-form").addEventListener("submit", async e => {
  e.preventDefault();
  const r = await api("/ui/api/login", { method: "POST", body: JSON.stringify({ token: $("login-token").value }) });
  if (!r.ok) { $("login-error").textContent = r.body?.error || `refused (${r.status})`; return; }
  if (r.body.mayList === false) banner = { ok: false, text: r.body.reason };
  $("login").close();
  await loadSession();
  connect();
});
async function logout() {
  await api("/ui/api/logout", { method: "POST", body: "{}" });
  await loadSession();
  connect();
}

// ---- routing and the live stream

function route() {
  const m = location.pathname.match(/^\/ui\/canaries\/([^/]+)\/([^/]+)$/);
  return m ? { ns: decodeURIComponent(m[1]), name: decodeURIComponent(m[2]) } : null;
}
function connect() {
  if (stream) stream.close();
  const r = route();
  const url = r ? `/ui/api/stream?canary=${encodeURIComponent(r.ns)}/${encodeURIComponent(r.name)}` : "/ui/api/stream";
  stream = new EventSource(url);
  stream.addEventListener("open", () => setLive(true));
  stream.addEventListener("error", async () => {
    setLive(false);
    // A refusal (401/403) closes the stream for good; say why instead of retrying.
    if (stream.readyState === EventSource.CLOSED) {
      const probe = await api(r ? `/ui/api/canaries/${encodeURIComponent(r.ns)}/${encodeURIComponent(r.name)}` : "/ui/api/canaries");
      if (probe.status === 401 || probe.status === 403) refused(probe);
    }
  });
  stream.addEventListener("canaries", e => { rows = JSON.parse(e.data); updates++; if (!route()) renderOverview(); });
  stream.addEventListener("canary", e => { page = JSON.parse(e.data); updates++; if (route()) renderCanary(); });
  stream.addEventListener("refused", e => { stream.close(); refused({ status: 401, body: JSON.parse(e.data) }); });
}
function setLive(on) {
  const el = $("live");
  el.className = `live ${on ? "on" : "off"}`;
  el.textContent = on ? "live" : "reconnecting…";
}
function refused(r) {
  put(h("div", { class: "panel", id: "refused" }, h("h2", {}, r.status === 401 ? "Log in to see this dashboard" : "Not allowed"),
    h("p", {}, r.body?.error || `refused (${r.status})`), h("button", { class: "go", onclick: () => showLogin() }, "Log in")));
  if (r.status === 401) showLogin(r.body?.error);
}
function navigate(href) {
  history.pushState(null, "", href);
  page = null;
  connect();
  render();
}
window.addEventListener("popstate", () => { page = null; connect(); render(); });
function link(href, text) {
  return h("a", { href, onclick: e => { if (e.button === 0 && !e.metaKey && !e.ctrlKey) { e.preventDefault(); navigate(href); } } }, text);
}
function render() { if (route()) renderCanary(); else renderOverview(); }
function renderBanner() {
  if (!banner) return null;
  return h("div", { class: `banner ${banner.ok ? "ok" : "err"}`, id: "banner" }, banner.text);
}

// ---- overview

function renderOverview() {
  const params = new URLSearchParams(location.search);
  const ns = params.get("namespace") || "";
  const namespaces = [...new Set(rows.map(r => r.namespace))].sort();
  const shown = rows.filter(r => !ns || r.namespace === ns);
  const filter = h("select", { id: "namespace", "aria-label": "namespace", onchange: e => {
    const v = e.target.value; history.replaceState(null, "", v ? `/ui/?namespace=${encodeURIComponent(v)}` : "/ui/"); renderOverview();
  } }, h("option", { value: "" }, "all namespaces"), namespaces.map(n => h("option", { value: n, selected: n === ns }, n)));
  const body = shown.length === 0
    ? h("div", { class: "empty" }, rows.length === 0 ? "No canaries yet. Apply a Canary and it appears here." : "No canaries in this namespace.")
    : h("table", { id: "canaries" },
      h("thead", {}, h("tr", {}, ["Canary", "Namespace", "Phase", "Weight", "Step", "Last check", "Since"].map((t, i) => h("th", { class: i === 5 ? "hide-narrow" : null }, t)))),
      h("tbody", {}, shown.map(r => h("tr", { "data-canary": `${r.namespace}/${r.name}` },
        h("td", {}, link(`/ui/canaries/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.name)}`, r.name)),
        h("td", {}, r.namespace),
        h("td", {}, badge(r.phase, r.paused)),
        h("td", {}, weightBar(r.weight, r.maxWeight)),
        h("td", { class: "num" }, r.steps ? `${r.step}/${r.steps}` : "–"),
        h("td", { class: "hide-narrow" }, lastCheck(r.lastCheck)),
        h("td", { class: "num", title: r.since || "" }, age(r.since))))));
  put(
    h("div", { class: "head" }, h("div", {}, h("h1", {}, "Canaries"), h("div", { class: "sub" }, `${shown.length} of ${rows.length} · updates live`)), h("div", { class: "toolbar" }, filter)),
    renderBanner(), h("div", { class: "panel", "data-updates": updates, id: "overview" }, body));
}

// ---- a canary's page

function renderCanary() {
  const r = route();
  if (!page) {
    put(h("div", { class: "empty" }, `Loading ${r.ns}/${r.name}…`));
    return;
  }
  const c = page.canary;
  const canAct = !session.readOnly && !!session.user;
  const actions = session.readOnly ? null : h("div", { class: "actions", id: "actions" },
    page.actions.map(a => h("button", { class: a.name === "abort" ? "danger" : a.name === "promote" ? "go" : "", "data-action": a.name,
      disabled: !canAct, title: canAct ? a.description : "log in to act", onclick: () => confirmAction(c, a) }, a.name[0].toUpperCase() + a.name.slice(1))),
    canAct ? null : h("button", { onclick: () => showLogin() }, "Log in to act"));
  put(
    h("div", { class: "head" },
      h("div", {}, h("div", { class: "sub" }, link("/ui/", "Canaries"), ` / ${c.namespace}`), h("h1", { id: "title" }, c.name, " ", badge(c.phase, c.paused))),
      actions),
    renderBanner(),
    h("div", { class: "cards" },
      card("Weight", `${c.weight}%`, "weight"), card("Step", c.steps ? `${c.step}/${c.steps}` : "–", "step"),
      card("Failed checks", `${c.failedChecks}/${c.threshold}`, "failed"), card("Strategy", c.strategy || "–"),
      card("Revision", (c.revision || "–").slice(0, 12)), card("Since", age(c.since))),
    h("div", { class: "grid" },
      h("div", { class: "panel", id: "timeline" }, h("h2", {}, "Weight, this rollout"),
        chart({ series: [{ name: "weight", color: "var(--accent)", points: page.timeline.map(p => ({ t: p.time, v: p.weight })) }], yMin: 0, yMax: 100, unit: "%", steps: true, height: 150 })),
      ...judgeCharts(),
      ...metricCharts()),
    checksPanel(), hooksPanel(), eventsPanel(), diffPanel(), releasesPanel());
}
function card(k, v, id) { return h("div", { class: "card", id: id ? `card-${id}` : null }, h("div", { class: "k" }, k), h("div", { class: "v" }, v)); }

function judgeCharts() {
  const judged = page.checks.filter(c => c.kind === "judge" && c.details);
  if (judged.length === 0) return [];
  const byMetric = group(judged);
  return [...byMetric].map(([metric, list]) => {
    const success = metric === "request-success-rate";
    const rate = v => success ? 100 - v : v;
    const last = list[list.length - 1];
    const d = last.details;
    return h("div", { class: "panel arm-chart", "data-metric": metric },
      h("h2", {}, success ? "Success rate, primary vs canary" : "Slow requests, primary vs canary"),
      chart({
        series: [
          { name: "primary", color: "var(--primary)", points: list.map(c => ({ t: c.time, v: rate(c.details.primaryRate) })) },
          { name: "canary", color: "var(--canary)", points: list.map(c => ({ t: c.time, v: rate(c.details.canaryRate) })), dots: true },
        ], unit: "%", yMax: success ? 100 : undefined,
      }),
      legend(["p", "primary"], ["c", "canary"]),
      h("p", { class: "judge" }, h("b", {}, `${page.judgeType || "judge"} judge: `),
        `canary − primary ${num(d.lower)} to ${num(d.upper)} points (margin ${num(d.margin)}) · evidence ${num(d.evidence)} of ${num(d.rejectAt)} to roll back · `,
        `${num(d.canaryRequests, 0)} canary / ${num(d.primaryRequests, 0)} primary requests`),
      h("p", { class: `muted ${last.result}` }, last.message || ""));
  });
}
function metricCharts() {
  const metrics = group(page.checks.filter(c => c.kind === "metric"));
  return [...metrics].map(([name, list]) => {
    const last = list[list.length - 1];
    const lines = [];
    if (last.min !== null && last.min !== undefined) lines.push({ v: last.min, color: "var(--bad)" });
    if (last.max !== null && last.max !== undefined) lines.push({ v: last.max, color: "var(--bad)" });
    const pts = list.filter(c => c.value !== null && c.value !== undefined).map(c => ({ t: c.time, v: c.value, result: c.result }));
    return h("div", { class: "panel metric-chart", "data-metric": name },
      h("h2", {}, `${name}, canary`),
      chart({ series: [{ name, color: "var(--canary)", points: pts, dots: true }], lines, yMin: name === "request-success-rate" ? undefined : 0 }),
      legend(["c", "value"], ["t", `threshold ${threshold(last)}`]));
  });
}
function group(list) {
  const m = new Map();
  for (const c of list) { if (!m.has(c.name)) m.set(c.name, []); m.get(c.name).push(c); }
  return m;
}
function checksPanel() {
  const byKey = new Map();
  for (const c of page.checks) { const k = `${c.kind}/${c.name}`; if (!byKey.has(k)) byKey.set(k, []); byKey.get(k).push(c); }
  const body = byKey.size === 0 ? h("div", { class: "empty" }, "No checks yet.") : h("table", { id: "checks" },
    h("thead", {}, h("tr", {}, ["Check", "Kind", "Value", "Threshold", "Result", "History"].map(t => h("th", {}, t)))),
    h("tbody", {}, [...byKey.values()].map(list => {
      const last = list[list.length - 1];
      return h("tr", { title: last.message || "" }, h("td", {}, last.name), h("td", { class: "muted" }, last.kind), h("td", { class: "num" }, num(last.value)),
        h("td", { class: "num" }, threshold(last)), h("td", { class: last.result }, last.result),
        h("td", {}, h("span", { class: "strip" }, list.slice(-30).map(c => h("i", { class: c.result, title: `${clock(c.time)} ${c.result} ${c.message || ""}` })))));
    })));
  return h("div", { class: "panel" }, h("h2", {}, "Checks"), body);
}
function hooksPanel() {
  if (page.hooks.length === 0) return null;
  return h("div", { class: "panel" }, h("h2", {}, "Webhooks and gates"), h("table", { id: "hooks" },
    h("thead", {}, h("tr", {}, ["Name", "Type", "Last result", "When"].map(t => h("th", {}, t)))),
    h("tbody", {}, page.hooks.map(w => h("tr", {}, h("td", {}, w.name), h("td", { class: "muted" }, w.type),
      h("td", { class: w.last?.result || "muted" }, w.last ? `${w.last.result}${w.last.message ? `: ${w.last.message}` : ""}` : "not called yet"),
      h("td", { class: "num" }, w.last ? `${age(w.last.time)} ago` : ""))))));
}
function eventsPanel() {
  return h("div", { class: "panel" }, h("h2", {}, "Events"), page.events.length === 0 ? h("div", { class: "empty" }, "No events.") :
    h("div", { class: "events" }, h("table", { id: "events" }, h("tbody", {}, page.events.map(e =>
      h("tr", { class: e.type }, h("td", { class: "num muted", title: e.time }, clock(e.time)), h("td", {}, e.message)))))));
}
function diffPanel() {
  if (!page.diff) return null;
  const changed = page.diff.some(l => l.op !== " ");
  return h("div", { class: "panel" }, h("h2", {}, "This revision against the primary"),
    changed ? h("pre", { class: "diff", id: "diff" }, page.diff.filter((l, i, all) => near(all, i)).map(l =>
      h("span", { class: l.op === "+" ? "add" : l.op === "-" ? "del" : "" }, `${l.op} ${l.text}`))) : h("div", { class: "empty" }, "The canary runs the primary's spec."),
    page.diffTruncated ? h("p", { class: "muted" }, "Only the first lines are compared.") : null);
}
function near(all, i) {
  for (let j = Math.max(0, i - 3); j <= Math.min(all.length - 1, i + 3); j++) if (all[j].op !== " ") return true;
  return false;
}
function releasesPanel() {
  return h("div", { class: "panel" }, h("h2", {}, "Releases"), page.releases.length === 0 ? h("div", { class: "empty" }, "No releases yet.") :
    h("table", { id: "releases" }, h("thead", {}, h("tr", {}, ["Started", "Outcome", "Duration"].map(t => h("th", {}, t)))),
      h("tbody", {}, page.releases.map(r => h("tr", {}, h("td", { class: "num", title: r.start }, `${new Date(r.start).toLocaleString([], { hour12: false })}`),
        h("td", {}, h("span", { class: `badge ${r.outcome}` }, r.outcome)), h("td", { class: "num" }, r.end ? duration(r.seconds) : `${age(r.start)} so far`))))));
}

// ---- actions

function confirmAction(c, a) {
  const dialog = $("confirm");
  $("confirm-title").textContent = `${a.name[0].toUpperCase() + a.name.slice(1)} ${c.namespace}/${c.name}?`;
  $("confirm-text").textContent = a.description;
  $("confirm-ok").className = a.name === "abort" ? "danger go" : "go";
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    const r = await api(`/ui/api/canaries/${encodeURIComponent(c.namespace)}/${encodeURIComponent(c.name)}/actions/${a.name}`, { method: "POST", body: "{}" });
    banner = r.ok ? { ok: true, text: `${a.name} requested by ${r.body.requestedBy}: ${r.body.message}` } : { ok: false, text: r.body?.error || `refused (${r.status})` };
    if (r.status === 401) await loadSession();
    renderCanary();
  };
  dialog.showModal();
}

// A minute-old "since" should read as such without waiting for a change.
setInterval(() => { if (!$("login").open && !$("confirm").open) render(); }, 5000);

(async () => { await loadSession(); render(); connect(); })();
