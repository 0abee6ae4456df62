// Podium's pages: live status, filters, copy-link, the form's helpers, log tail and
// the wake-up progress. No framework; every page works (less live) without it.
"use strict";

const body = document.body;
const prefix = body.dataset.prefix;
const LABELS = { ready: "Running", starting: "Starting", stopping: "Stopping", stopped: "Stopped", failed: "Failed" };

function absolute(path) {
  return new URL(path, location.origin).href;
}

function setStatus(badge, status) {
  badge.dataset.status = status;
  badge.className = "badge status-badge status-" + status;
  badge.textContent = LABELS[status] || status;
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}

// Runs `step` now and every `seconds` while the page is visible.
function every(seconds, step) {
  let timer = null;
  const run = async () => {
    try { await step(); } catch (e) { /* the next round tries again */ }
    timer = setTimeout(run, seconds * 1000);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else if (timer === null) { run(); }
  });
  run();
}

// --- copy link (gallery and manage pages) -------------------------------------------
document.querySelectorAll("[data-copy]").forEach((button) => {
  button.addEventListener("click", async () => {
    const link = absolute(button.dataset.copy);
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(link);
      button.textContent = "Copied";
    } catch (e) {
      window.prompt("Copy this link:", link);
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});
document.querySelectorAll("input[data-absolute]").forEach((input) => { input.value = absolute(input.value); });

// --- the gallery ----------------------------------------------------------------------
function gallery() {
  const cards = [...document.querySelectorAll(".dashboard-card")];
  const text = document.getElementById("filter-text");
  const framework = document.getElementById("filter-framework");
  const owner = document.getElementById("filter-owner");
  const noMatch = document.getElementById("no-match");
  const announce = document.getElementById("announce");
  const filter = () => {
    const words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const card of cards) {
      const ok = words.every((w) => card.dataset.text.includes(w)) &&
        (!framework.value || card.dataset.framework === framework.value) &&
        (!owner.value || card.dataset.owner === owner.value);
      card.hidden = !ok;
      shown += ok ? 1 : 0;
    }
    noMatch.hidden = shown > 0 || cards.length === 0;
    announce.textContent = shown + " dashboards shown";
  };
  [text, framework, owner].forEach((el) => el.addEventListener("input", filter));
  document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
  every(4, async () => {
    const found = await getJSON(prefix + "_/api/dashboards?limit=500");
    for (const d of found.items) {
      const badge = document.querySelector(`.dashboard-card[data-key="${CSS.escape(d.owner + "/" + d.name)}"] [data-status]`);
      if (badge && badge.dataset.status !== d.status) setStatus(badge, d.status);
    }
  });
}

// --- the create / edit form ----------------------------------------------------------
function form() {
  const name = document.getElementById("name");
  const preview = document.getElementById("link-preview");
  if (name && preview) {
    const base = absolute(name.dataset.linkBase);
    const show = () => { preview.textContent = base + (name.value || "<name>") + "/"; };
    name.addEventListener("input", show);
    show();
  }
  const sources = document.querySelectorAll("input[name=source_type]");
  const showSource = () => {
    const chosen = document.querySelector("input[name=source_type]:checked").value;
    document.querySelectorAll("[data-source]").forEach((el) => { el.hidden = el.dataset.source !== chosen; });
  };
  sources.forEach((el) => el.addEventListener("change", showSource));
  showSource();
  const restricted = document.getElementById("restricted-fields");
  const showAccess = () => {
    restricted.hidden = document.querySelector("input[name=access_mode]:checked")?.value !== "restricted";
  };
  document.querySelectorAll("input[name=access_mode]").forEach((el) => el.addEventListener("change", showAccess));
  showAccess();
  const command = document.getElementById("command-field");
  const framework = document.getElementById("framework");
  if (command) {
    const showCommand = () => { command.hidden = framework.value !== "custom"; };
    framework.addEventListener("change", showCommand);
    showCommand();
  }
  const errors = document.getElementById("form-errors");
  if (errors) errors.focus();
  picker();
}

function picker() {
  const open = document.getElementById("browse");
  if (!open) return;
  const panel = document.getElementById("picker");
  const list = document.getElementById("picker-list");
  const where = document.getElementById("picker-path");
  const note = document.getElementById("picker-note");
  const folder = document.getElementById("source_path");
  const entry = document.getElementById("entry");
  let current = "";
  const show = async (path) => {
    note.textContent = "Loading…";
    let found;
    try {
      const volume = document.getElementById("source_volume")?.value || "";
      found = await getJSON(body.dataset.files + "?path=" + encodeURIComponent(path) +
        (volume ? "&volume=" + encodeURIComponent(volume) : ""));
    } catch (e) {
      note.textContent = "This folder cannot be listed.";
      return;
    }
    current = path;
    where.textContent = "/" + path;
    list.replaceChildren();
    for (const item of found.entries) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-sm btn-link p-0";
      const child = path ? path + "/" + item.name : item.name;
      if (item.type === "folder") {
        button.textContent = "📁 " + item.name + "/";
        button.addEventListener("click", () => show(child));
      } else {
        button.textContent = item.name;
        button.addEventListener("click", () => {
          folder.value = path;
          entry.value = item.name;
          note.textContent = "Chosen: " + child;
          entry.focus();
        });
      }
      li.append(button);
      list.append(li);
    }
    note.textContent = found.entries.length ? "" : "No notebooks or scripts here.";
  };
  open.addEventListener("click", () => {
    panel.hidden = !panel.hidden;
    open.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) show(folder.value.replace(/^\/+|\/+$/g, ""));
  });
  document.getElementById("source_volume")?.addEventListener("change", () => {
    if (!panel.hidden) show("");  // another storage: from its top
  });
  document.getElementById("picker-up").addEventListener("click", () => {
    show(current.split("/").slice(0, -1).join("/"));
  });
}

// --- the manage page -------------------------------------------------------------------
function manage() {
  const api = body.dataset.api;
  const badge = document.querySelector("[data-status]");
  const message = document.getElementById("status-message");
  const log = document.getElementById("log");
  const start = document.querySelector("button[value=start]");
  const stop = document.querySelector("button[value=stop]");
  every(2, async () => {
    const d = await getJSON(api);
    if (badge.dataset.status !== d.status) setStatus(badge, d.status);
    message.textContent = d.message;
    start.disabled = d.status === "ready" || d.status === "starting";
    stop.disabled = d.status === "stopped";
    const found = await getJSON(api + "/logs?lines=200");
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = found.lines.join("\n");
    if (atEnd) log.scrollTop = log.scrollHeight;
  });
  const dialog = document.getElementById("delete-dialog");
  document.getElementById("delete-open").addEventListener("click", () => dialog.showModal());
  document.getElementById("delete-cancel").addEventListener("click", () => dialog.close());
}

// --- the wake-up progress page -----------------------------------------------------------
function progress() {
  const status = document.getElementById("progress-status");
  const elapsed = document.getElementById("elapsed");
  const steps = document.getElementById("steps");
  const since = Date.now();
  const tick = setInterval(() => { elapsed.textContent = Math.round((Date.now() - since) / 1000); }, 1000);
  let last = "";
  const source = new EventSource(body.dataset.events);
  source.onmessage = async (event) => {
    const step = JSON.parse(event.data);
    const text = step.message || LABELS[step.status] || step.status;
    status.textContent = text;
    if (text !== last) {
      const li = document.createElement("li");
      li.textContent = text + " (" + Math.round(step.elapsed) + " s)";
      steps.append(li);
      last = text;
    }
    if (step.status === "ready" || step.status === "stopped") {
      source.close();
      location.reload();
    } else if (step.status === "failed") {
      source.close();
      clearInterval(tick);
      document.getElementById("bar").hidden = true;
      document.getElementById("failed").hidden = false;
      if (body.dataset.logs) {
        document.getElementById("failed-text").textContent = "It could not start: " + (step.message || "see the log below.");
        const found = await getJSON(body.dataset.logs);
        document.getElementById("log").textContent = found.lines.join("\n");
      }
    }
  };
  source.onerror = () => { status.textContent = "Waiting for the gateway…"; };
}

const pages = { gallery, form, manage, progress };
if (pages[body.dataset.page]) pages[body.dataset.page]();
