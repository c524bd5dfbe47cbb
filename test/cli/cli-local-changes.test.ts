import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startGitHubDouble, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { runCli } from "./cli-process.js";

/**
 * `dstack run` when GitHub can serve the commit: the CLI sends only the local changes (changed and
 * untracked files, deletions), and the agent lays them over GitHub's tarball of the commit.
 */

const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - echo "greeting is $(cat greeting.txt)"
      - test ! -e gone.txt && echo "gone.txt deleted"
      - cat new.txt
      - cat kept.txt
`;
const FILES: Record<string, string> = {
  ".dstack/workflows.yaml": WORKFLOWS,
  "greeting.txt": "committed\n",
  "gone.txt": "deleted locally\n",
  "kept.txt": "unchanged file from the commit\n",
};

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let repo: string;
let configHome: string;

function git(cwd: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync("git", args, { cwd, env: { ...process.env, ...env }, encoding: "utf8" }).trim();
}

/**
 * Makes the local checkout's HEAD the very commit the double holds: same tree, author, message;
 * the double stamps it with the second it was made, which is found by trying each second from
 * `madeAfter` (taken before the commit was made, so a slow set-up in between cannot miss it) to now.
 */
function recreateCommit(dir: string, sha: string, madeAfter: number): void {
  const tree = git(dir, ["write-tree"]);
  const now = Math.floor(Date.now() / 1000);
  for (let t = now + 2; t >= madeAfter; t--) {
    const date = `${t} +0000`;
    const who = { GIT_AUTHOR_NAME: "Mona Lisa", GIT_AUTHOR_EMAIL: "mona@example.com", GIT_COMMITTER_NAME: "Mona Lisa", GIT_COMMITTER_EMAIL: "mona@example.com" };
    const made = git(dir, ["commit-tree", tree, "-m", "Initial commit"], { ...who, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
    if (made === sha) {
      git(dir, ["update-ref", "refs/heads/main", sha]);
      return;
    }
  }
  throw new Error(`could not recreate the double's commit ${sha} locally`);
}

beforeAll(async () => {
  redis = await startRedis("cli-changes");
  github = await startGitHubDouble();
  const madeAfter = Math.floor(Date.now() / 1000);
  const { sha } = github.addRepo({ owner: "acme", name: "changes", files: FILES });
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
  repo = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-changes-"));
  configHome = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-config-"));
  git(repo, ["init", "-q", "-b", "main"]);
  git(repo, ["remote", "add", "origin", "https://github.example.com/acme/changes.git"]);
  for (const [file, text] of Object.entries(FILES)) {
    await mkdir(path.dirname(path.join(repo, file)), { recursive: true });
    await writeFile(path.join(repo, file), text);
  }
  git(repo, ["add", "."]);
  recreateCommit(repo, sha, madeAfter);
  await writeFile(path.join(repo, "greeting.txt"), "changed locally\n");
  await unlink(path.join(repo, "gone.txt"));
  await writeFile(path.join(repo, "new.txt"), "untracked file arrived\n");
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
  if (repo !== undefined) await rm(repo, { recursive: true, force: true });
  if (configHome !== undefined) await rm(configHome, { recursive: true, force: true });
});

describe("dstack run with a commit GitHub has", () => {
  it("sends the local changes, which the agent lays over the commit's code", async () => {
    const res = await runCli(["run", "hello", "-f"], repo, {
      env: { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome },
    });
    expect(res.stderr).toContain("sending local changes on top of");
    expect(res.stderr).toContain("2 changed or new file(s)");
    expect(res.stderr).toContain("1 deleted");
    expect(res.stdout).toContain("greeting is changed locally");
    expect(res.stdout).toContain("gone.txt deleted");
    expect(res.stdout).toContain("untracked file arrived");
    expect(res.stdout).toContain("unchanged file from the commit");
    expect(res.code).toBe(0);
    const runs = JSON.parse((await runCli(["runs", "--json"], repo, { env: { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome } })).stdout) as Array<{
      workflow: string;
      code: string;
    }>;
    expect(runs).toEqual([expect.objectContaining({ workflow: "hello", code: "github+changes" })]);
    // The same run a PR comment would start: a check run on the commit, concluded.
    const check = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: hello" && c.status === "completed"), { timeoutMs: 30_000 });
    expect(check.conclusion).toBe("success");
  }, 90_000);
});
