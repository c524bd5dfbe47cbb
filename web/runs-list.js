/* global document, window, setTimeout */
import { api, say } from "./api.js";
import { formatDuration, runDurationMs, TERMINAL } from "./format.js";

const table = document.getElementById("runs");
const note = document.getElementById("runs-note");

/** Shows `run`'s status and duration in its row. */
function showRun(tr, run) {
  const status = tr.querySelector('[data-field="status"]');
  status.textContent = run.status;
  status.className = `status s-${run.status}`;
  const ms = runDurationMs(run);
  if (ms !== undefined) tr.querySelector('[data-field="duration"]').textContent = formatDuration(ms);
}

/** Whether a run the list did not show belongs on it after a reload: the first page only, and the page's filters. */
function wouldBeListed(run) {
  const f = table.dataset;
  return f.firstPage === "true" && (f.statusFilter === "" || run.status === f.statusFilter) && (f.tagFilter === "" || run.tags.includes(f.tagFilter));
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
      if (!seenNewest && wouldBeListed(run)) fresh++;
      continue;
    }
    rows.delete(run.id);
    showRun(tr, run);
    if (!TERMINAL.includes(run.status)) active = true;
  }
  // Shown runs older than the listing's newest 200 (an older page): asked for one by one while they looked active.
  for (const [id, tr] of rows) {
    if (TERMINAL.includes(tr.querySelector('[data-field="status"]').textContent)) continue;
    const { run } = await api("GET", `/api/v1/runs/${encodeURIComponent(id)}`);
    showRun(tr, run);
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
