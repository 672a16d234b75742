// The Sluice dashboard: plain JavaScript, no build step, no network but
// this server. It asks for the API token once (kept in localStorage) and
// refreshes the pipelines every two seconds without reloading the page.
"use strict";

const tokenKey = "sluice-token";
const refreshMs = 2000;
let timer = null;

const $ = (sel, root = document) => root.querySelector(sel);

function token() { return localStorage.getItem(tokenKey) || ""; }

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + token() } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (res.status === 401) {
    askToken("The token was refused.");
    throw new Error("unauthorized");
  }
  if (!res.ok) throw new Error((data && data.error) || res.status + " " + res.statusText);
  return data;
}

function askToken(why) {
  clearTimeout(timer);
  $("#token-form").hidden = false;
  $("#token-error").textContent = why || "";
  $("#forget").hidden = true;
  $("#pipelines").replaceChildren();
  $("#token").focus();
}

function fmtNum(n, digits = 0) {
  if (n === null || n === undefined) return "–";
  return n.toLocaleString(undefined, { maximumFractionDigits: digits });
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return fmtNum(n, i ? 1 : 0) + " " + units[i];
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return fmtNum(s * 1000, 0) + " ms";
  if (s < 120) return fmtNum(s, 1) + " s";
  return fmtNum(s / 60, 1) + " min";
}

function ago(t) {
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (!isFinite(s) || s < 0) return "";
  return "for " + fmtSeconds(s);
}

function card(name) {
  let el = document.querySelector(`.pipeline[data-pipeline="${CSS.escape(name)}"]`);
  if (el) return el;
  el = $("#card").content.firstElementChild.cloneNode(true);
  el.dataset.pipeline = name;
  $(".name", el).textContent = name;
  el.querySelectorAll("button[data-action]").forEach(b => b.addEventListener("click", () => act(name, b.dataset.action, b)));
  $("#pipelines").append(el);
  return el;
}

function chart(el, history) {
  const line = $(".line", el);
  const n = history.length;
  if (n < 2) { line.setAttribute("points", ""); return; }
  const top = Math.max(...history, 1);
  const pts = history.map((v, i) => `${(i / (n - 1)) * 300},${58 - (v / top) * 54}`);
  line.setAttribute("points", pts.join(" "));
}

function render(list) {
  const seen = new Set();
  let running = 0;
  for (const p of list.pipelines) {
    seen.add(p.name);
    if (p.state === "running") running++;
    const el = card(p.name);
    const st = $(".state", el);
    st.textContent = p.state;
    st.className = "state " + p.state;
    el.dataset.state = p.state;
    $(".since", el).textContent = ago(p.since);
    $(".rate", el).textContent = fmtNum(p.rates.changes_per_second, 1);
    $(".window", el).textContent = "(last " + fmtSeconds(p.history.length * list.history_interval_seconds) + ")";
    chart(el, p.history);
    $(".lag", el).textContent = fmtSeconds(p.lag.seconds);
    const sl = [];
    if (p.lag.source_bytes !== null) sl.push(fmtBytes(p.lag.source_bytes) + " of log");
    if (p.lag.source_seconds !== null) sl.push(fmtSeconds(p.lag.source_seconds));
    if (p.lag.retained_bytes !== null) sl.push(fmtBytes(p.lag.retained_bytes) + " retained");
    $(".source-lag", el).textContent = sl.join(", ") || "–";
    $(".delivered", el).textContent = fmtNum(p.totals.delivered) + " changes, " + fmtBytes(p.totals.bytes);
    $(".queue", el).textContent = fmtBytes(p.totals.queue_bytes);
    $(".source", el).textContent = p.source;
    $(".to", el).textContent = p.to + (p.format !== "sluice" ? " (" + p.format + ")" : "");
    $(".pos-delivered", el).textContent = p.positions.delivered || "–";
    $(".pos-checkpointed", el).textContent = p.positions.checkpointed || "–";
    $(".pos-source", el).textContent = p.positions.source || "–";
    let err = "";
    if (p.last_error) {
      err = "Last error " + new Date(p.last_error.at).toLocaleString() + ": " + p.last_error.message;
      if (p.next_retry) err += " (attempt " + p.attempt + ", next try " + new Date(p.next_retry).toLocaleTimeString() + ")";
    }
    $(".last-error", el).textContent = err;
    el.classList.toggle("in-ha", !!p.ha);
    if (p.ha) {
      let owner = p.ha.owner || "nobody";
      if (p.ha.owned) owner += " (this instance; lease until " + new Date(p.ha.lease_expires).toLocaleTimeString() + ")";
      owner += ", " + p.ha.takeovers + " takeovers here";
      $(".owner", el).textContent = owner;
      $(".standbys", el).textContent = p.ha.standbys.join(", ") || "none";
    }
    $('[data-action="pause"]', el).disabled = p.state === "paused" || p.state === "stopped";
    $('[data-action="resume"]', el).disabled = p.state === "running" || p.state === "starting";
  }
  document.querySelectorAll(".pipeline").forEach(el => { if (!seen.has(el.dataset.pipeline)) el.remove(); });
  $("#summary").textContent = `${list.pipelines.length} pipelines, ${running} running`;
  $("#updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function refresh() {
  clearTimeout(timer);
  try {
    render(await api("GET", "/api/pipelines"));
    $("#token-form").hidden = true;
    $("#forget").hidden = false;
  } catch (e) {
    if (e.message === "unauthorized") return;
    $("#message").textContent = "Cannot reach the API: " + e.message;
  }
  timer = setTimeout(refresh, refreshMs);
}

async function act(name, action, button) {
  let body;
  if (action === "snapshot") {
    const tables = prompt(`Snapshot which tables of ${name}? (database.table, comma-separated)`);
    if (!tables) return;
    body = { tables: tables.split(",").map(s => s.trim()).filter(Boolean) };
  }
  button.disabled = true;
  try {
    const r = await api("POST", `/api/pipelines/${encodeURIComponent(name)}/${action}`, body);
    $("#message").textContent = action === "snapshot" && r && r.request
      ? `snapshot ${name}: request ${r.request} sent (the tables' rows arrive as incremental reads)` : "";
  } catch (e) {
    if (e.message !== "unauthorized") $("#message").textContent = `${action} ${name}: ${e.message}`;
  }
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#token-form").addEventListener("submit", ev => {
    ev.preventDefault();
    localStorage.setItem(tokenKey, $("#token").value);
    $("#token").value = "";
    refresh();
  });
  $("#forget").addEventListener("click", () => { localStorage.removeItem(tokenKey); askToken(); });
  if (token()) refresh(); else askToken();
});
