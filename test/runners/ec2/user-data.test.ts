import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { renderUserData, USER_DATA_MAX_BYTES } from "../../../runners/ec2/user-data.js";
import { AGENT_ENV } from "./fixtures.js";

const TEMPLATE = fileURLToPath(new URL("../../../templates/ec2-user-data.sh.hbs", import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "dstack-user-data-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the script's variable block (everything before its first function) and prints the agent's variables. */
function exportsOf(script: string): Record<string, string> {
  const head = script.slice(0, script.indexOf("\nlog() {"));
  const print = `node -e 'const e = process.env; console.log(JSON.stringify({url: e.DSTACK_AGENT_URL, id: e.DSTACK_AGENT_RUN_ID, token: e.DSTACK_AGENT_TOKEN, extra: e.EXTRA}))'`;
  const result = spawnSync("bash", ["-c", `${head}\n${print}`], { cwd: dir, encoding: "utf8", env: { PATH: process.env.PATH } });
  if (result.status !== 0) throw new Error(`bash failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, string>;
}

describe("EC2 user data", () => {
  it("renders the bootstrap with the run's values, shell-quoted", () => {
    const script = renderUserData({ agentEnv: AGENT_ENV, maxLifetimeSeconds: 5400, nodeVersion: "20.20.2" });
    expect(script).toMatchSnapshot();
    expect(spawnSync("bash", ["-n"], { input: script }).status).toBe(0);
  });

  it("keeps hostile values inert: quotes, command substitution, backticks, newlines", () => {
    const hostile = `x'; touch pwned-1; echo '$(touch pwned-2)\`touch pwned-3\`\n"; touch pwned-4 #`;
    const script = renderUserData({ agentEnv: { ...AGENT_ENV, DSTACK_AGENT_TOKEN: hostile, EXTRA: "it's \\ $HOME" }, maxLifetimeSeconds: 60 });
    expect(exportsOf(script)).toEqual({ url: AGENT_ENV.DSTACK_AGENT_URL, id: AGENT_ENV.DSTACK_AGENT_RUN_ID, token: hostile, extra: "it's \\ $HOME" });
    for (const n of [1, 2, 3, 4]) expect(existsSync(path.join(dir, `pwned-${n}`))).toBe(false);
  });

  it("never uses triple braces: every value goes through the sh helper (variable names are checked by renderUserData)", () => {
    const template = readFileSync(TEMPLATE, "utf8");
    expect(template).not.toContain("{{{");
    const mustaches = [...template.matchAll(/\{\{([^}]*)\}\}/g)].map((m) => (m[1] ?? "").trim());
    expect(mustaches.filter((m) => !/^(sh \w+|#each env|\/each|name)$/.test(m))).toEqual([]);
  });

  it("shuts the machine down past its maximum lifetime, even while the bootstrap is still busy", async () => {
    const home = path.join(dir, "lifetime");
    const bin = path.join(dir, "lifetime-bin");
    mkdirSync(home, { recursive: true });
    mkdirSync(bin, { recursive: true });
    // A service that never answers: curl hangs, as it would on a dead network.
    writeFileSync(path.join(bin, "curl"), "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    writeFileSync(path.join(bin, "shutdown"), '#!/bin/sh\necho "$@" >> "$DSTACK_HOME/shutdown-requested"\n', { mode: 0o755 });
    const script = renderUserData({ agentEnv: AGENT_ENV, maxLifetimeSeconds: 1 });
    const child = spawn("bash", ["-c", script], {
      detached: true,
      stdio: "ignore",
      env: { PATH: `${bin}:${process.env.PATH ?? ""}`, DSTACK_HOME: home, DSTACK_SHUTDOWN_COMMAND: path.join(bin, "shutdown") },
    });
    try {
      const marker = path.join(home, "shutdown-requested");
      const deadline = Date.now() + 10_000;
      // The whole line: `>>` creates the file before `echo` writes into it.
      const written = () => existsSync(marker) && readFileSync(marker, "utf8").endsWith("\n");
      while (!written() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(marker, "utf8")).toBe("-h now\n");
      expect(child.exitCode).toBeNull();
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }
  });

  it("refuses names that are not variable names, NUL bytes, a missing token and oversized scripts", () => {
    expect(() => renderUserData({ agentEnv: { ...AGENT_ENV, "A=B; touch x": "1" }, maxLifetimeSeconds: 60 })).toThrow('"A=B; touch x" is not an environment variable name');
    expect(() => renderUserData({ agentEnv: { ...AGENT_ENV, EXTRA: "a\0b" }, maxLifetimeSeconds: 60 })).toThrow("the value of EXTRA contains a NUL byte");
    const { DSTACK_AGENT_TOKEN: _token, ...noToken } = AGENT_ENV;
    expect(() => renderUserData({ agentEnv: noToken, maxLifetimeSeconds: 60 })).toThrow("DSTACK_AGENT_TOKEN is missing");
    expect(() => renderUserData({ agentEnv: { ...AGENT_ENV, EXTRA: "x".repeat(USER_DATA_MAX_BYTES) }, maxLifetimeSeconds: 60 })).toThrow(/over EC2's 16384/);
    expect(() => renderUserData({ agentEnv: AGENT_ENV, maxLifetimeSeconds: 60, nodeVersion: "20; rm -rf /" })).toThrow("is not a Node.js version");
    expect(() => renderUserData({ agentEnv: AGENT_ENV, maxLifetimeSeconds: 0.5 })).toThrow("must be a positive whole number of seconds, got 0.5");
  });
});
