/* global document, window, fetch, EventSource, TextDecoder, DOMParser, requestAnimationFrame, setInterval, clearInterval, performance */
import { AnsiRenderer } from "./ansi.js";
import { api, say } from "./api.js";
import { formatDuration, TERMINAL } from "./format.js";

/** Bytes of log loaded at a time: the tail first, earlier parts on demand (a 200 MB log stays responsive). */
const CHUNK_BYTES = 256 * 1024;
/** Characters of live output kept in the page; beyond it the oldest are dropped (the download has all). */
const MAX_SHOWN_CHARS = 4 * 1024 * 1024;

const main = document.getElementById("main");
const runId = main.dataset.runId;
const repo = main.dataset.repo;
const logEl = document.getElementById("log");
const note = document.getElementById("log-note");
const earlierBtn = document.getElementById("log-earlier");
const followBox = document.getElementById("log-follow");
const statusEl = document.getElementById("run-status");
const actionStatus = document.getElementById("action-status");
const logsUrl = `/api/v1/runs/${encodeURIComponent(runId)}/logs`;
/**
 * The parts of the page that follow the run's state (summary line, machine facts and duration,
 * timeline, attempts, the log's size, artifacts). The server renders and escapes them; on a `status`
 * event the page reads itself again and swaps in the parts that changed, so no formatting is repeated here.
 */
const LIVE_PARTS = ["run-summary", "run-live-facts", "timeline", "run-attempts", "log-download", "artifacts"];

/** Where the shown log starts: bytes before it are fetched on "Load earlier output". */
let fetchedTop = 0;
/** A partial first line held back from the shown text until the bytes before it arrive. */
let headBytes = new Uint8Array(0);
let firstLineSeen = false;
let shownChars = 0;

/** Keeps a flood of live output from growing the page without bound: drops the oldest nodes. */
function trimShown() {
  if (shownChars <= MAX_SHOWN_CHARS) return;
  while (shownChars > MAX_SHOWN_CHARS * 0.75 && logEl.firstChild !== null) {
    shownChars -= (logEl.firstChild.textContent || "").length;
    logEl.firstChild.remove();
  }
  // The view no longer starts where "Load earlier output" would continue.
  fetchedTop = 0;
  earlierBtn.hidden = true;
  say(note, "Older output was dropped from this view to keep it responsive; download the full log for all of it.");
}

/**
 * While the run is active its duration counts on from the server's figure by this browser's
 * monotonic clock (so a skewed clock does not matter); every swap of the facts restarts it.
 */
let durationTimer;
function startDurationClock() {
  clearInterval(durationTimer);
  const cell = document.getElementById("run-duration");
  if (cell === null || TERMINAL.includes(main.dataset.status)) return;
  const base = Number(cell.dataset.durationMs) || 0;
  const since = performance.now();
  durationTimer = setInterval(() => {
    cell.textContent = formatDuration(base + performance.now() - since);
  }, 1000);
}

/** The badge (a polite live region: each change is announced once), the title and the buttons that fit `status`. */
function setStatus(status) {
  if (main.dataset.status === status) return;
  main.dataset.status = status;
  statusEl.textContent = status;
  statusEl.className = `status s-${status}`;
  document.title = document.title.replace(/— [a-z_]+$/, `— ${status}`);
  // Absent for viewers without write permission (the page leaves out what they may not use).
  const tagForm = document.getElementById("tag-form");
  if (tagForm) tagForm.hidden = status !== "done";
  if (TERMINAL.includes(status)) {
    clearInterval(durationTimer);
    const stop = document.getElementById("stop");
    if (stop) stop.hidden = true;
    const rerunBtn = document.getElementById("rerun");
    if (rerunBtn) rerunBtn.hidden = false;
  }
}

let refreshing = false;
let refreshAgain = false;
/** Reads the page again and swaps in the live parts that differ; one read at a time, the last change always read. */
async function refreshParts() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      const res = await fetch(window.location.pathname, { credentials: "same-origin", headers: { accept: "text/html" } });
      // A redirect here is to the sign-in page: the session ended.
      if (!res.ok || res.redirected) throw new Error(`The run's details could not be updated (HTTP ${res.status}); reload the page.`);
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const id of LIVE_PARTS) {
        const shown = document.getElementById(id);
        const next = fresh.getElementById(id);
        // Unchanged parts stay, so focus and open previews in them are kept.
        if (shown !== null && next !== null && !shown.isEqualNode(next)) shown.replaceWith(document.adoptNode(next));
      }
      startDurationClock();
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
}

/** A `status` event: the run as /api/v1 shows it, sent when the follow starts and whenever its state changes. */
function onRunChange(run) {
  setStatus(run.status);
  refreshParts().catch((err) => say(actionStatus, err.message));
}

function markFirstLine(text) {
  if (firstLineSeen || text === "") return;
  firstLineSeen = true;
  performance.mark("dstack:first-log-line");
  logEl.dataset.firstLine = "shown";
}

function scrollToEnd() {
  if (followBox.checked) logEl.scrollTop = logEl.scrollHeight;
}

async function fetchRange(offset, limit) {
  const res = await fetch(`${logsUrl}?offset=${offset}&limit=${limit}`, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`the log could not be read (HTTP ${res.status})`);
  return {
    offset: Number(res.headers.get("x-dstack-offset")),
    bytes: new Uint8Array(await res.arrayBuffer()),
    status: res.headers.get("x-dstack-run-status"),
  };
}

/** Splits off everything up to the first newline (a line cut by the range's start). */
function splitHead(bytes, startsAtZero) {
  if (startsAtZero) return [new Uint8Array(0), bytes];
  const nl = bytes.indexOf(10);
  return nl === -1 ? [bytes, new Uint8Array(0)] : [bytes.subarray(0, nl + 1), bytes.subarray(nl + 1)];
}

function updateEarlier() {
  earlierBtn.hidden = fetchedTop === 0;
  if (fetchedTop > 0) say(note, `Showing the end of the log; ${Math.round(fetchedTop / 1024)} KB of earlier output not loaded.`);
  else say(note, "");
}

async function loadEarlier() {
  if (fetchedTop === 0) return;
  earlierBtn.disabled = true;
  const start = Math.max(0, fetchedTop - CHUNK_BYTES);
  const r = await fetchRange(start, fetchedTop - start);
  const joined = new Uint8Array(r.bytes.length + headBytes.length);
  joined.set(r.bytes);
  joined.set(headBytes, r.bytes.length);
  const [head, body] = splitHead(joined, r.offset === 0);
  headBytes = head;
  fetchedTop = r.offset;
  const before = logEl.scrollHeight;
  const text = new TextDecoder().decode(body);
  logEl.insertAdjacentHTML("afterbegin", new AnsiRenderer().render(text));
  shownChars += text.length;
  logEl.scrollTop += logEl.scrollHeight - before;
  earlierBtn.disabled = false;
  updateEarlier();
}

const live = new AnsiRenderer();
let pending = "";
function append(text) {
  if (text === "") return;
  pending += text;
  if (pending.length === text.length) {
    requestAnimationFrame(() => {
      const chunk = pending;
      pending = "";
      logEl.insertAdjacentHTML("beforeend", live.render(chunk));
      shownChars += chunk.length;
      markFirstLine(chunk);
      trimShown();
      scrollToEnd();
    });
  }
}

function follow(offset) {
  const es = new EventSource(`${logsUrl}?follow=true&offset=${offset}`);
  es.addEventListener("log", (e) => append(JSON.parse(e.data).text));
  es.addEventListener("status", (e) => onRunChange(JSON.parse(e.data)));
  es.addEventListener("end", (e) => {
    es.close();
    const end = JSON.parse(e.data);
    setStatus(end.status);
    say(note, `The run ended: ${end.status}${end.reason ? ` (${end.reason})` : ""}.`);
  });
  es.onerror = () => {
    // EventSource reconnects by itself, resuming at the last event id; CLOSED means it gave up.
    if (es.readyState === EventSource.CLOSED) say(note, "The live log was interrupted; reload the page to resume.");
  };
}

async function start() {
  const size = Number(main.dataset.logBytes) || 0;
  const offset = Math.max(0, size - CHUNK_BYTES);
  logEl.textContent = "";
  const r = await fetchRange(offset, CHUNK_BYTES);
  const [head, body] = splitHead(r.bytes, r.offset === 0);
  headBytes = head;
  fetchedTop = r.offset;
  const text = new TextDecoder().decode(body);
  logEl.insertAdjacentHTML("beforeend", live.render(text));
  shownChars += text.length;
  markFirstLine(text);
  updateEarlier();
  logEl.scrollTop = logEl.scrollHeight;
  // Followed while the page shows the run active, even if it ended since: the stream's `status` and
  // `end` events then bring the page up to date.
  if (!TERMINAL.includes(main.dataset.status)) follow(r.offset + r.bytes.length);
}

/**
 * The text node holding character `pos` of the log's text (`nodes`: each text node and where it starts):
 * the one it starts in, or for a match's `end`, the one it ends in.
 */
function locate(nodes, pos, end) {
  let found = nodes[0];
  for (const n of nodes) {
    if (end ? n.at >= pos : n.at > pos) break;
    found = n;
  }
  return [found.node, pos - found.at];
}

/**
 * "Find next": selects the next match after the current one in the loaded log. The log's whole text
 * is searched, not each text node: every colour change (an ANSI span) starts a new node, and a match
 * may cross one ("error: x" with "error:" in red).
 */
let searchFrom = 0;
function findNext(query) {
  if (query === "") return;
  const q = query.toLowerCase();
  const walker = document.createTreeWalker(logEl, 4);
  const nodes = [];
  let text = "";
  for (let node = walker.nextNode(); node !== null; node = walker.nextNode()) {
    nodes.push({ node, at: text.length });
    text += node.data;
  }
  const lower = text.toLowerCase();
  const hits = [];
  for (let i = lower.indexOf(q); i !== -1; i = lower.indexOf(q, i + 1)) hits.push(i);
  if (hits.length === 0) {
    say(note, `No match for “${query}” in the loaded log.`);
    return;
  }
  const at = hits.find((h) => h >= searchFrom) ?? hits[0];
  searchFrom = at + 1;
  const range = document.createRange();
  range.setStart(...locate(nodes, at, false));
  range.setEnd(...locate(nodes, at + q.length, true));
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  followBox.checked = false;
  logEl.scrollTop += range.getBoundingClientRect().top - logEl.getBoundingClientRect().top - logEl.clientHeight / 3;
  say(note, `Match ${hits.indexOf(at) + 1} of ${hits.length}.`);
}

document.getElementById("log-search").addEventListener("submit", (e) => {
  e.preventDefault();
  findNext(document.getElementById("log-q").value);
});
earlierBtn.addEventListener("click", () => loadEarlier().catch((err) => say(note, err.message)));
followBox.addEventListener("change", scrollToEnd);

const stop = document.getElementById("stop");
if (stop) {
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    try {
      const { run } = await api("POST", `/api/v1/runs/${encodeURIComponent(runId)}/stop`);
      setStatus(run.status);
      say(actionStatus, "Stop requested.");
    } catch (err) {
      say(actionStatus, err.message);
      stop.disabled = false;
    }
  });
}

const rerun = document.getElementById("rerun");
rerun?.addEventListener("click", async () => {
  rerun.disabled = true;
  try {
    const { run } = await api("POST", `/api/v1/runs/${encodeURIComponent(runId)}/rerun`);
    window.location.assign(`/runs/${encodeURIComponent(run.id)}`);
  } catch (err) {
    say(actionStatus, err.message);
    rerun.disabled = false;
  }
});

document.getElementById("tag-form")?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const tag = document.getElementById("tag-name").value.trim();
  try {
    await api("POST", `/api/v1/repos/${repo}/tags`, { tag, runId });
    window.location.reload();
  } catch (err) {
    say(actionStatus, err.message);
  }
});

for (const btn of document.querySelectorAll("[data-untag]")) {
  btn.addEventListener("click", async () => {
    try {
      await api("DELETE", `/api/v1/repos/${repo}/tags/${encodeURIComponent(btn.dataset.untag)}`);
      window.location.reload();
    } catch (err) {
      say(actionStatus, err.message);
    }
  });
}

// Small text artifacts: fetched when opened and shown with textContent, never as HTML. Listened for
// on the document (`toggle` does not bubble, but is captured) because the artifacts list is swapped
// in when the run ends.
document.addEventListener(
  "toggle",
  async (e) => {
    const details = e.target;
    if (!details.matches?.("details.text-preview")) return;
    const pre = details.querySelector("pre");
    if (!details.open || pre.dataset.loaded) return;
    pre.dataset.loaded = "1";
    try {
      const res = await fetch(details.dataset.src, { credentials: "same-origin" });
      pre.textContent = res.ok ? await res.text() : `HTTP ${res.status}`;
    } catch (err) {
      pre.textContent = err.message;
    }
  },
  true,
);

startDurationClock();
start().catch((err) => say(note, err.message));
