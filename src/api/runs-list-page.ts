import type { Router } from "../http/router.js";
import { render } from "../render.js";
import type { RunCursor, RunStore } from "../runs/run-store.js";
import { describeTrigger, runDuration } from "../runs/run-view.js";
import { ACTIVE_STATUSES, isTerminal, RUN_STATUSES, type Run } from "../runs/types.js";
import { formatTime, pageApiAuth, requireUser, sendHtml, type PageAuth } from "./page-response.js";
import { repoFilter, requireRepo } from "./v1/api-auth.js";

export interface RunsListDeps extends PageAuth {
  store: Pick<RunStore, "list">;
  now?: () => number;
}

const PAGE_SIZE = 25;
/** Runs scanned at most for one filtered page, and for the list of known repositories. */
const MAX_SCANNED = 5000;
const REPOS_SCANNED = 1000;

/** The filters of `/`, from its query; anything unknown is ignored rather than refused. */
export interface RunsFilter {
  repo?: string;
  workflow?: string;
  status?: string;
  tag?: string;
  /**
   * Cursor: the runs after this one, for the next page (`before=<createdAt ms>.<run id>`; a time
   * alone, as older links have it, means the runs created before it).
   */
  before?: RunCursor;
}

/** `before` of a page's address: `<ms>.<run id>` or `<ms>`; anything else is no cursor. */
function parseCursor(value: string | null): RunCursor | undefined {
  const m = /^(\d{1,16})(?:\.([a-z0-9-]{1,64}))?$/.exec(value ?? "");
  const at = Number(m?.[1]);
  if (m === null || !Number.isSafeInteger(at) || at <= 0) return undefined;
  return m[2] === undefined ? { at } : { at, id: m[2] };
}

export function parseRunsFilter(q: URLSearchParams): RunsFilter {
  const str = (k: string) => {
    const v = (q.get(k) ?? "").trim();
    return v === "" ? undefined : v.slice(0, 200);
  };
  const status = str("status");
  return {
    repo: str("repo"),
    workflow: str("workflow"),
    status: status !== undefined && (RUN_STATUSES as readonly string[]).includes(status) ? status : undefined,
    tag: str("tag"),
    before: parseCursor(q.get("before")),
  };
}

function matches(run: Run, f: RunsFilter): boolean {
  return (f.workflow === undefined || run.workflow.name === f.workflow) && (f.status === undefined || run.status === f.status) && (f.tag === undefined || run.tags.includes(f.tag));
}

/**
 * One page of runs, newest first, and the cursor of the next page if there is one; `readable`
 * leaves out repositories the viewer cannot read.
 */
export async function findRuns(store: Pick<RunStore, "list">, f: RunsFilter, readable: (repo: string) => Promise<boolean> = async () => true): Promise<{ runs: Run[]; next?: RunCursor }> {
  const found: Run[] = [];
  let before = f.before;
  let scanned = 0;
  for (;;) {
    const page = await store.list({ repo: f.repo, limit: 200, before });
    scanned += page.length;
    for (const run of page) {
      if (!matches(run, f) || !(await readable(run.repo))) continue;
      if (found.length === PAGE_SIZE) return { runs: found, next: cursorAfter(found.at(-1)) };
      found.push(run);
    }
    const last = page.at(-1);
    if (last === undefined || page.length < 200 || scanned >= MAX_SCANNED) return { runs: found };
    before = cursorAfter(last);
  }
}

function cursorAfter(run: Run | undefined): RunCursor | undefined {
  return run === undefined ? undefined : { at: run.createdAt, id: run.id };
}

function shortSha(sha: string): string {
  return /^0+$/.test(sha) ? "uploaded" : sha.slice(0, 7);
}

export function runRow(run: Run, nowMs: number) {
  return {
    id: run.id,
    url: `/runs/${encodeURIComponent(run.id)}`,
    repo: run.repo,
    workflow: run.workflow.name,
    // The run page's words ("dstack run by the API", "comment by @alice on #3"), not "api by api".
    trigger: describeTrigger(run),
    commit: shortSha(run.commit),
    status: run.status,
    active: !isTerminal(run.status),
    started: formatTime(run.startedAt ?? run.createdAt),
    duration: runDuration(run, nowMs),
    tags: run.tags,
  };
}

/**
 * The /api/v1 query the list's script refreshes from (`web/runs-list.js`): the repository and the
 * workflow. Not the status: a shown run that finished would drop out of the answer and keep its old status.
 */
function liveQuery(f: RunsFilter): string {
  const q = new URLSearchParams();
  if (f.repo !== undefined) q.set("repo", f.repo);
  if (f.workflow !== undefined) q.set("workflow", f.workflow);
  return q.toString();
}

/** `/`: the repositories this service knows and their runs, filterable and paginated. */
export function mountRunsListPage(router: Router, deps: RunsListDeps): void {
  const now = deps.now ?? Date.now;
  router.add("GET", "/", async (ctx) => {
    const user = await requireUser(deps, ctx, now());
    if (user === undefined) return;
    const f = parseRunsFilter(ctx.url.searchParams);
    const auth = pageApiAuth(deps, now());
    if (f.repo !== undefined) await requireRepo(auth, user, f.repo, "read");
    const readable = repoFilter(auth, user);
    const [{ runs, next }, recent] = await Promise.all([findRuns(deps.store, f, readable), deps.store.list({ limit: REPOS_SCANNED })]);
    const known = [...new Set(recent.map((r) => r.repo))].sort();
    const visible = (await Promise.all(known.map(async (repo) => ((await readable(repo)) ? repo : undefined)))).filter((r): r is string => r !== undefined);
    const repos = visible.map((repo) => ({
      repo,
      selected: repo === f.repo,
      settingsUrl: `/repos/${repo.split("/").map(encodeURIComponent).join("/")}/settings`,
    }));
    const query = (extra: Record<string, string | undefined>) => {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries({ repo: f.repo, workflow: f.workflow, status: f.status, tag: f.tag, ...extra })) if (v !== undefined) q.set(k, v);
      return `/?${q.toString()}`;
    };
    const t = now();
    sendHtml(
      ctx,
      200,
      render("runs-list.html", {
        repos,
        login: user.kind === "github" ? user.login : undefined,
        filter: f,
        statuses: RUN_STATUSES.map((s) => ({ value: s, selected: s === f.status })),
        runs: runs.map((r) => runRow(r, t)),
        anyActive: runs.some((r) => (ACTIVE_STATUSES as readonly string[]).includes(r.status)),
        nextUrl: next === undefined ? undefined : query({ before: next.id === undefined ? String(next.at) : `${next.at}.${next.id}` }),
        firstUrl: f.before === undefined ? undefined : query({}),
        apiQuery: liveQuery(f),
        firstPage: f.before === undefined,
        // What an empty table says: no runs at all, or none that pass the filters (with a way back).
        filtered: f.workflow !== undefined || f.status !== undefined || f.tag !== undefined,
        unfilteredUrl: f.repo === undefined ? "/" : `/?${new URLSearchParams({ repo: f.repo }).toString()}`,
      }),
    );
  });
}
