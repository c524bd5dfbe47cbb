/* global document, window, setTimeout */
import { api, say } from "./api.js";

const TERMINAL = ["done", "failed", "stopped", "timed_out"];
const table = document.getElementById("runs");
const note = document.getElementById("runs-note");

function formatDuration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** While a shown run is active, refresh statuses and durations from /api/v1 every few seconds. */
async function refresh() {
  const rows = new Map([...table.querySelectorAll("tr[data-run-id]")].map((tr) => [tr.dataset.runId, tr]));
  const query = table.dataset.apiQuery;
  const { runs } = await api("GET", `/api/v1/runs?limit=200${query ? `&${query}` : ""}`);
  let active = false;
  let fresh = 0;
  const newest = rows.size > 0 ? [...rows.keys()][0] : undefined;
  let seenNewest = newest === undefined;
  for (const run of runs) {
    if (run.id === newest) seenNewest = true;
    const tr = rows.get(run.id);
    if (tr === undefined) {
      if (!seenNewest) fresh++;
      continue;
    }
    const status = tr.querySelector('[data-field="status"]');
    status.textContent = run.status;
    status.className = `status s-${run.status}`;
    if (run.durationMs !== undefined) tr.querySelector('[data-field="duration"]').textContent = formatDuration(run.durationMs);
    if (!TERMINAL.includes(run.status)) active = true;
  }
  if (fresh > 0) {
    note.textContent = "";
    const a = document.createElement("a");
    a.href = window.location.href;
    a.textContent = `${fresh} new run${fresh === 1 ? "" : "s"}: reload`;
    note.append(a);
  }
  return active || fresh > 0;
}

async function loop() {
  try {
    if (!(await refresh())) return;
  } catch (err) {
    say(note, err.message);
  }
  setTimeout(loop, 3000);
}

if (table.dataset.live === "true") setTimeout(loop, 3000);
