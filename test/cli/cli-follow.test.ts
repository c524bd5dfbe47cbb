import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { makeCheckout, runCli, type CliOptions, type CliResult } from "./cli-process.js";

/**
 * The built `dstack` CLI as a user at a terminal meets it while following runs against the whole
 * service (real Redis, local runner agents, no GitHub): output piped to `head`, Ctrl-C during
 * `run -f`, `run -f --json`, long run lists, and the service restarting under `logs -f`.
 */

const WORKFLOWS = `workflows:
  - name: chatty
    provider: bash
    commands:
      - seq 1 50000
  - name: slow
    provider: bash
    commands:
      - echo "slow started"
      - sleep 120
  - name: quick
    provider: bash
    commands:
      - echo "quick ran"
  - name: ticking
    provider: bash
    commands:
      - for i in $(seq 1 16); do echo "tick $i"; sleep 0.5; done
`;

let redis: TestRedis;
let service: TestService;
let port: number;
let dataDir: string;
let repo: string;
let env: Record<string, string>;

function cli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return runCli(args, repo, { ...options, env: { ...env, ...options.env } });
}

/** The service on a fixed port and data folder, so that a restart keeps its address and API token. */
function start(): Promise<TestService> {
  return startTestService({ redisUrl: redis.url, prefix: redis.prefix, dataDir, env: { PORT: String(port), DSTACK_PUBLIC_URL: `http://127.0.0.1:${port}` } });
}

/** Submits `workflow` without following it; its run id. */
async function submit(workflow: string): Promise<string> {
  const res = await cli(["run", workflow]);
  expect(res.code).toBe(0);
  return res.stdout.trim();
}

async function statusOf(id: string): Promise<string | undefined> {
  const res = await cli(["runs", "--json", "-n", "500"]);
  return (JSON.parse(res.stdout) as Array<{ id: string; status: string }>).find((r) => r.id === id)?.status;
}

beforeAll(async () => {
  redis = await startRedis("cli-follow");
  port = await freePort();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-follow-data-"));
  service = await start();
  repo = await makeCheckout("git@github.com:acme/follow-demo.git", { ".dstack/workflows.yaml": WORKFLOWS });
  const configHome = path.join(repo, ".git", "xdg");
  env = { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome, NO_COLOR: "1" };
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
  if (repo !== undefined) await rm(repo, { recursive: true, force: true });
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe("output cut short", () => {
  it("ends quietly with 141 when the reader of stdout leaves (`dstack logs RUN | head`), no stack trace", async () => {
    const finished = await cli(["run", "chatty", "-f"]);
    expect(finished.code).toBe(0);
    const id = /run ([a-z0-9]+) \(chatty\) submitted/.exec(finished.stderr)?.[1] ?? "";
    for (const args of [["logs", id], ["logs", id, "-f"]]) {
      let child: Parameters<NonNullable<CliOptions["onSpawn"]>>[0] | undefined;
      const res = await cli(args, { onSpawn: (c) => (child = c), onStdout: () => child?.stdout?.destroy() });
      expect(res.stdout.startsWith("1\n2\n")).toBe(true);
      expect(res.stdout.length).toBeLessThan(finished.stdout.length);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(141);
    }
  }, 60_000);
});

describe("run -f", () => {
  it("on Ctrl-C stops following, not the run, and says how to follow or stop it, exit 130", async () => {
    let child: Parameters<NonNullable<CliOptions["onSpawn"]>>[0] | undefined;
    let seen = "";
    const res = await cli(["run", "slow", "-f"], {
      onSpawn: (c) => (child = c),
      onStdout: (chunk) => {
        seen += chunk;
        if (seen.includes("slow started")) child?.kill("SIGINT");
      },
    });
    const id = /run ([a-z0-9]+) \(slow\) submitted/.exec(res.stderr)?.[1] ?? "";
    expect(res.code).toBe(130);
    expect(res.stderr.split("\n").slice(-3)).toEqual([
      "",
      `dstack: stopped following run ${id}; the run goes on: \`dstack logs -f ${id}\` follows it again, \`dstack stop ${id}\` stops it`,
      "",
    ]);
    expect(await statusOf(id)).toBe("running");
    // Its artifacts come at its end: say so rather than "downloaded 0 files", and make no DIR.
    const out = path.join(repo, ".git", "no-artifacts");
    expect(await cli(["artifacts", "download", id, "-o", out])).toEqual({
      code: 0,
      stdout: "",
      stderr: `dstack: run ${id} has no artifacts yet (it is running; they are uploaded when it ends); nothing was downloaded\n`,
    });
    expect(existsSync(out)).toBe(false);
    expect((await cli(["stop", id])).code).toBe(0);
  }, 60_000);

  it("with --json keeps stdout one JSON document and streams the log to stderr", async () => {
    const res = await cli(["run", "quick", "-f", "--json"]);
    expect(res.code).toBe(0);
    const runs = JSON.parse(res.stdout) as Array<{ id: string; workflow: string }>;
    expect(runs.map((r) => r.workflow)).toEqual(["quick"]);
    expect(res.stderr).toContain("quick ran\n");
    expect(res.stderr).toContain(`dstack: run ${runs[0]?.id} (quick) done`);
    expect(await cli(["artifacts", "list", runs[0]?.id ?? ""])).toEqual({ code: 0, stdout: "", stderr: `dstack: run ${runs[0]?.id} has no artifacts\n` });
  }, 60_000);
});

describe("dstack runs", () => {
  it("says when the default limit cut the list, and names each run's repository with --all", async () => {
    const before = (await cli(["runs", "--json", "-n", "500"])).stdout;
    const missing = 21 - (JSON.parse(before) as unknown[]).length;
    for (let i = 0; i < missing; i += 6) await Promise.all(Array.from({ length: Math.min(6, missing - i) }, () => submit("quick")));
    const cut = await cli(["runs"]);
    expect(cut.code).toBe(0);
    expect(cut.stdout.trim().split("\n")).toHaveLength(21);
    expect(cut.stderr).toBe("dstack: showing the newest 20 runs; more with `-n N` (up to 500)\n");
    // Asked for by number, or not cut: no note.
    expect((await cli(["runs", "-n", "20"])).stderr).toBe("");
    expect((await cli(["runs", "-n", "30"])).stdout.trim().split("\n").length).toBeGreaterThan(21);
    const all = await cli(["runs", "--all", "-n", "2"]);
    expect(all.stdout.split("\n")[0]).toMatch(/^RUN\s+REPO\s+WORKFLOW\s+STATUS\s+AGE\s+DURATION\s+TAGS\s+ARTIFACTS$/);
    expect(all.stdout.split("\n")[1]).toMatch(/^[a-z0-9]+\s+acme\/follow-demo\s+quick\s+done\s/);
  }, 60_000);
});

describe("a service without Sign in with GitHub", () => {
  it("says why `dstack tokens list` cannot work here, not that the server failed, exit 1", async () => {
    expect(await cli(["tokens", "list"])).toEqual({
      code: 1,
      stdout: "",
      stderr: 'dstack: this service has no "Sign in with GitHub" (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are not set); use the API token\n',
    });
  });
});

describe("logs -f while the service restarts", () => {
  it("says the connection was lost and is back, then goes on to the run's end", async () => {
    const id = await submit("ticking");
    let restarted: Promise<void> | undefined;
    let seen = "";
    const res = await cli(["logs", id, "-f"], {
      onStdout: (chunk) => {
        seen += chunk;
        if (restarted !== undefined || !seen.includes("tick 2\n")) return;
        restarted = (async () => {
          await service.stop();
          await new Promise((r) => setTimeout(r, 1500));
          service = await start();
        })();
      },
    });
    await restarted;
    const notes = res.stderr.split("\n");
    expect(notes[0]).toBe(`dstack: lost the connection to ${env.DSTACK_URL}; trying again for about a minute`);
    expect(notes).toContain("dstack: connected again; the log goes on");
    expect(res.stdout).toContain("tick 1\n");
    expect(notes.at(-2)).toMatch(new RegExp(`^dstack: run ${id} \\(ticking\\) `));
  }, 60_000);
});
