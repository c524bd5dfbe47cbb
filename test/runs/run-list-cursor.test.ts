import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { findRuns, parseRunsFilter } from "../../src/api/runs-list-page.js";
import { RunStore, type RunCursor } from "../../src/runs/run-store.js";
import { blankWorkflow } from "../../src/workflow/blank-workflow.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

/**
 * Paging through runs: the runs of one group are created within the same millisecond, so a page
 * that ends inside such a millisecond must go on with the others of it. A cursor of the time alone
 * skipped them (found by the outside-in pass: 3 runs of a group 3 ms apart could fall on a page edge).
 */

let server: TestRedis;
let redis: Redis;
let store: RunStore;
const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);
/** 72 runs: 12 milliseconds with 6 runs each, oldest first (the web page's 25 a page ends inside a millisecond). */
const created: Array<{ id: string; at: number }> = [];

beforeAll(async () => {
  server = await startRedis("run-list-cursor");
  redis = new Redis(server.url);
  store = new RunStore({ redis, prefix: server.prefix });
  for (let ms = 0; ms < 12; ms++) {
    for (let k = 0; k < 6; k++) {
      const { run } = await store.create({
        repo: "acme/paging",
        workflow: { ...blankWorkflow(`w${k}`, "bash", { file: ".dstack/workflows.yaml", line: 1, column: 1 }), commands: ["true"] },
        commit: "0123456789abcdef0123456789abcdef01234567",
        trigger: { kind: "api", actor: "api" },
        groupId: `g${ms}`,
        needs: [],
        inputs: [],
        code: { kind: "github" },
        variables: {},
        createdAt: T0 + ms,
      });
      created.push({ id: run.id, at: run.createdAt });
    }
  }
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe("paging through runs", () => {
  it("visits every run once, newest first, whatever the page size, when pages end inside a millisecond", async () => {
    for (const limit of [1, 4, 6, 7, 25]) {
      const seen: Array<{ id: string; at: number }> = [];
      let before: RunCursor | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await store.list({ repo: "acme/paging", limit, before });
        seen.push(...page.map((r) => ({ id: r.id, at: r.createdAt })));
        const last = page.at(-1);
        if (page.length < limit || last === undefined) break;
        before = { at: last.createdAt, id: last.id };
      }
      expect({ limit, count: seen.length, distinct: new Set(seen.map((s) => s.id)).size }).toEqual({ limit, count: 72, distinct: 72 });
      // Newest first: creation times never go up.
      expect(seen.every((s, i) => i === 0 || s.at <= (seen[i - 1]?.at ?? Infinity))).toBe(true);
      expect(new Set(seen.map((s) => s.id))).toEqual(new Set(created.map((c) => c.id)));
    }
  });

  it("still reads a cursor of a time alone as 'created before it'", async () => {
    const page = await store.list({ repo: "acme/paging", limit: 100, before: T0 + 2 });
    expect(page.map((r) => r.createdAt).sort()).toEqual([...Array<number>(6).fill(T0), ...Array<number>(6).fill(T0 + 1)]);
  });

  it("pages the runs list of the web page by `before=<ms>.<id>` links, with every run on exactly one page", async () => {
    expect(parseRunsFilter(new URLSearchParams("before=1796050391854.5vnvjp5b37")).before).toEqual({ at: 1796050391854, id: "5vnvjp5b37" });
    expect(parseRunsFilter(new URLSearchParams("before=1796050391854")).before).toEqual({ at: 1796050391854 });
    for (const bad of ["abc", "-5", "12.<script>", "1.2.3", ""]) expect(parseRunsFilter(new URLSearchParams({ before: bad })).before).toBeUndefined();

    const ids: string[] = [];
    let filter = parseRunsFilter(new URLSearchParams("repo=acme/paging"));
    for (let pages = 0; pages < 10; pages++) {
      const { runs, next } = await findRuns(store, filter);
      ids.push(...runs.map((r) => r.id));
      if (next === undefined) break;
      // The link the page prints, read back as the next request would.
      filter = parseRunsFilter(new URLSearchParams({ repo: "acme/paging", before: `${next.at}.${next.id ?? ""}` }));
    }
    expect({ count: ids.length, distinct: new Set(ids).size }).toEqual({ count: 72, distinct: 72 });
  });
});
