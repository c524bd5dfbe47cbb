import { execFileSync } from "node:child_process";
import { readFile, mkdtemp, mkdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort, startRedis, type TestRedis } from "../helpers/redis.js";
import { startS3Server, type TestS3Server } from "../helpers/s3-server.js";
import { startTestService, type TestService } from "../helpers/service.js";
import { runCli, runCliInProcess, type CliResult } from "./cli-process.js";

/**
 * The built `dstack` CLI as a child process against the whole service (real Redis, the S3-protocol
 * server, local runner agents), with no GitHub configured: every run uploads the working tree of a
 * temporary Git repository that has uncommitted changes, untracked and ignored files.
 */

const WORKFLOWS = `workflows:
  - name: hello
    provider: bash
    commands:
      - echo "hello from $(cat greeting.txt)"
      - cat notes/untracked.txt
      - test ! -e ignored.bin && echo "ignored file left out"
      - mkdir -p out/deep
      - cp greeting.txt out/greeting.txt
      - echo "nested" > out/deep/n.txt
    artifacts: [out]
  - name: slow
    provider: bash
    commands:
      - echo "slow started"
      - sleep 120
  - name: broken
    provider: bash
    commands:
      - echo "about to fail"
      - exit 3
  - name: show-secret
    provider: bash
    commands:
      - test "$API_KEY" = "s3cr3t-value" && echo "secret arrived"
  - name: needs-tag
    provider: bash
    commands:
      - ls out
    depends-on: [hello:never-tagged]
`;

let redis: TestRedis;
let s3: TestS3Server;
let service: TestService;
let repo: string;
let configHome: string;
let env: Record<string, string>;

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, { cwd, stdio: "ignore" });
}

function cli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return runCli(args, repo, { env: { ...env, ...options.env }, input: options.input });
}

beforeAll(async () => {
  redis = await startRedis("cli");
  s3 = await startS3Server({ buckets: ["artifacts"] });
  service = await startTestService({
    redisUrl: redis.url,
    prefix: redis.prefix,
    env: {
      DSTACK_ARTIFACTS: "s3://artifacts/cli",
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    },
  });
  repo = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-repo-"));
  configHome = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-config-"));
  git(repo, "init", "-q", "-b", "main");
  git(repo, "config", "user.email", "t@example.com");
  git(repo, "config", "user.name", "t");
  git(repo, "remote", "add", "origin", "git@github.com:acme/cli-demo.git");
  await mkdir(path.join(repo, ".dstack"));
  await writeFile(path.join(repo, ".dstack", "workflows.yaml"), WORKFLOWS);
  await writeFile(path.join(repo, "greeting.txt"), "the commit\n");
  await writeFile(path.join(repo, ".gitignore"), "ignored.bin\n");
  git(repo, "add", ".");
  git(repo, "commit", "-q", "-m", "init");
  // Local changes the run must see: a modified tracked file and an untracked one; an ignored file it must not.
  await writeFile(path.join(repo, "greeting.txt"), "the local change\n");
  await mkdir(path.join(repo, "notes"));
  await writeFile(path.join(repo, "notes", "untracked.txt"), "untracked file arrived\n");
  await writeFile(path.join(repo, "ignored.bin"), "never uploaded\n");
  env = { DSTACK_URL: service.url, DSTACK_TOKEN: service.keys.apiToken, XDG_CONFIG_HOME: configHome, NO_COLOR: "1" };
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await s3?.close();
  await redis?.stop();
  if (repo !== undefined) await rm(repo, { recursive: true, force: true });
  if (configHome !== undefined) await rm(configHome, { recursive: true, force: true });
});

interface RunListItem {
  id: string;
  workflow: string;
  status: string;
  tags: string[];
}

async function listRuns(): Promise<RunListItem[]> {
  const res = await cli(["runs", "--json"]);
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout) as RunListItem[];
}

describe("dstack run, logs, runs, artifacts, tags", () => {
  let helloId = "";

  it("runs hello with -f from the uploaded working tree, local changes included, and exits 0", async () => {
    const res = await cli(["run", "hello", "-f"]);
    expect(res.stderr).toContain("uploading the working tree");
    expect(res.stdout).toContain("hello from the local change");
    expect(res.stdout).toContain("untracked file arrived");
    expect(res.stdout).toContain("ignored file left out");
    expect(res.stderr).toMatch(/run [a-z0-9]+ \(hello\) done/);
    expect(res.code).toBe(0);
    helloId = /run ([a-z0-9]+) \(hello\) submitted/.exec(res.stderr)?.[1] ?? "";
    expect(helloId).not.toBe("");
  }, 90_000);

  it("lists runs as JSON objects with id, workflow, status and tags", async () => {
    const runs = await listRuns();
    expect(runs).toContainEqual(expect.objectContaining({ id: helloId, workflow: "hello", status: "done", tags: [] }));
  });

  it("prints the runs table with every column", async () => {
    const res = await cli(["runs"]);
    expect(res.code).toBe(0);
    expect(res.stdout.split("\n")[0]).toMatch(/^RUN\s+WORKFLOW\s+STATUS\s+AGE\s+DURATION\s+TAGS\s+ARTIFACTS$/);
    expect(res.stdout).toMatch(new RegExp(`${helloId}\\s+hello\\s+done\\s+\\S+ ago\\s+\\S+.*2 \\(`));
  });

  it("prints the whole log of a finished run, and logs -f of it exits 0", async () => {
    const res = await cli(["logs", helloId]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("hello from the local change");
    const followed = await cli(["logs", helloId, "-f"]);
    expect(followed.stdout).toBe(res.stdout);
    expect(followed.code).toBe(0);
  });

  it("lists the artifacts with sizes and downloads each at its artifact path", async () => {
    const list = await cli(["artifacts", "list", helloId, "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      { path: "out/deep/n.txt", sizeBytes: 7 },
      { path: "out/greeting.txt", sizeBytes: 17 },
    ]);
    const table = await cli(["artifacts", "list", helloId]);
    expect(table.stdout).toMatch(/out\/greeting\.txt\s+17 B/);
    const dest = path.join(repo, "downloaded");
    const dl = await cli(["artifacts", "download", helloId, "-o", "downloaded"]);
    expect(dl.code).toBe(0);
    expect(dl.stderr).not.toContain("%"); // no progress bar when stderr is not a terminal
    expect(await readFile(path.join(dest, "out", "greeting.txt"), "utf8")).toBe("the local change\n");
    expect(await readFile(path.join(dest, "out", "deep", "n.txt"), "utf8")).toBe("nested\n");
  });

  it("says it cannot write when -o names a file, exit 1 and not an internal error", async () => {
    const dl = await cli(["artifacts", "download", helloId, "-o", "greeting.txt"]);
    expect(dl.code).toBe(1);
    expect(dl.stderr).toMatch(/^dstack: cannot write `[^`]+\/greeting\.txt` \(it is a file, not a folder\); choose a folder you can write to with `-o DIR`\n$/);
  });

  it("adds, lists and deletes a tag", async () => {
    const add = await cli(["tags", "add", "v1", helloId]);
    expect(add.code).toBe(0);
    const list = await cli(["tags", "list", "--json"]);
    expect(JSON.parse(list.stdout)).toEqual([{ tag: "v1", runs: [{ workflow: "hello", runId: helloId }] }]);
    expect((await listRuns()).find((r) => r.id === helloId)?.tags).toEqual(["v1"]);
    const del = await cli(["tags", "delete", "v1"]);
    expect(del.code).toBe(0);
    expect(JSON.parse((await cli(["tags", "list", "--json"])).stdout)).toEqual([]);
  });

  it("refuses to tag a run of another repository with exit code 2", async () => {
    const res = await cli(["tags", "add", "v2", helloId, "--repo", "acme/other"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`dstack: there is no run "${helloId}" in acme/other\n`);
  });
});

describe("dstack secrets", () => {
  it("adds a secret from stdin, lists its name only, passes it to runs and deletes it", async () => {
    const add = await cli(["secrets", "add", "API_KEY"], { input: "s3cr3t-value\n" });
    expect(add.code).toBe(0);
    expect(add.stdout + add.stderr).not.toContain("s3cr3t-value");
    const list = await cli(["secrets", "list", "--json"]);
    expect(list.stdout).not.toContain("s3cr3t-value");
    expect(JSON.parse(list.stdout)).toEqual([{ name: "API_KEY", updatedAt: expect.any(String) }]);
    const run = await cli(["run", "show-secret", "-f"]);
    expect(run.stdout).toContain("secret arrived");
    expect(run.code).toBe(0);
    const del = await cli(["secrets", "delete", "API_KEY"]);
    expect(del.code).toBe(0);
    expect(JSON.parse((await cli(["secrets", "list", "--json"])).stdout)).toEqual([]);
  }, 90_000);

  it("refuses a name that cannot be an environment variable before asking for the value, exit 2", async () => {
    // stdin is empty: were the value read first, the refusal would be "the value read from stdin is empty".
    const res = await cli(["secrets", "add", "HF TOKEN"]);
    expect(res).toEqual({ code: 2, stdout: "", stderr: "dstack: bad secret name: must be an environment variable name (ASCII letters, digits, _; not starting with a digit)\n" });
  });
});

describe("dstack stop and failing runs", () => {
  it("stops a running run and reports it stopped", async () => {
    const started = await cli(["run", "slow"]);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^[a-z0-9]+$/);
    // Wait until the workflow is running (its first line is in the log).
    for (let i = 0; i < 200 && !(await cli(["logs", id])).stdout.includes("slow started"); i++) await new Promise((r) => setTimeout(r, 200));
    // A bad --wait is refused before anything is asked of the service: the run goes on.
    expect(await cli(["stop", id, "--wait", "abc"])).toEqual({ code: 2, stdout: "", stderr: 'dstack: --wait must be a whole number of seconds, got "abc"\n' });
    expect((await listRuns()).find((r) => r.id === id)?.status).toBe("running");
    const stop = await cli(["stop", id]);
    expect(stop.stdout).toBe(`run ${id} stopped\n`);
    expect(stop.code).toBe(0);
    expect((await listRuns()).find((r) => r.id === id)?.status).toBe("stopped");
    const followed = await cli(["logs", id, "-f"]);
    expect(followed.code).toBe(1);
    expect(followed.stderr).toContain(`run ${id} (slow) stopped`);
  }, 90_000);

  it("exits 1 from run -f when the run fails, after streaming its log", async () => {
    const res = await cli(["run", "broken", "-f"]);
    expect(res.stdout).toContain("about to fail");
    expect(res.stderr).toMatch(/\(broken\) failed: the workflow exited with code 3/);
    expect(res.code).toBe(1);
  }, 90_000);

  it("refuses an unknown workflow with one line naming the known ones, exit 2", async () => {
    const res = await cli(["run", "helo"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n").at(-1)).toMatch(/^dstack: .*helo.*hello/);
  });
});

describe("dstack failures", () => {
  /** Runs `dstack run hello` in a new repository holding one sparse `weights.bin` of `size` (`truncate -s`): big on paper, nothing on disk. */
  async function runWithSparseFile(name: string, size: string): Promise<Awaited<ReturnType<typeof runCli>>> {
    const dir = await mkdtemp(path.join(os.tmpdir(), `dstack-cli-${name}-`));
    try {
      git(dir, "init", "-q", "-b", "main");
      git(dir, "remote", "add", "origin", `https://example.com/acme/${name}.git`);
      await mkdir(path.join(dir, ".dstack"));
      await writeFile(path.join(dir, ".dstack", "workflows.yaml"), WORKFLOWS);
      execFileSync("truncate", ["-s", size, path.join(dir, "weights.bin")]);
      return await runCli(["run", "hello"], dir, { env });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("refuses to run from a checkout whose .dstack/ has errors: each at its place on its own line, then what to do, exit 2", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-errors-"));
    try {
      git(dir, "init", "-q", "-b", "main");
      git(dir, "remote", "add", "origin", "https://example.com/acme/errors.git");
      await mkdir(path.join(dir, ".dstack"));
      const file = "workflows:\n  - name: a\n    provider: bash\n    commands: [echo a]\n  - name: b\n    provider: bassh\n  - name: c\n    provider: python\n    fle: x.py\n";
      await writeFile(path.join(dir, ".dstack", "workflows.yaml"), file);
      const res = await runCli(["run", "a"], dir, { env });
      expect(res.code).toBe(2);
      expect(res.stderr.split("\n")).toEqual([
        expect.stringMatching(/^\.dstack\/workflows\.yaml:6:15: error: unknown provider `bassh` — did you mean `bash`\?/),
        ".dstack/workflows.yaml:9:5: error: unknown field `fle` for provider `python` — did you mean `file`?",
        "dstack: .dstack/ has 2 error(s); fix them and ask again (`dstack validate` checks them without running anything)",
        "",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("warns of a working tree over the default upload limit, naming the biggest file, and lets the service's limit decide", async () => {
    const res = await runWithSparseFile("big", "101M");
    expect(res.stderr.split("\n")[1]).toMatch(
      /^dstack: warning: the working tree is 106 MB, over the default 100 MiB upload limit \(the biggest files: weights\.bin \(106 MB\), .*\); sending it anyway: the service's DSTACK_MAX_CODE_UPLOAD_BYTES decides, on the gzipped size\. If it is refused, add them to \.gitignore, or commit and push$/,
    );
    // Zeros gzip to almost nothing: far under the service's limit, which is what counts.
    expect(res.stderr).toMatch(/run [a-z0-9]+ \(hello\) submitted/);
    expect(res.code).toBe(0);
  });

  it("refuses to pack a working tree over what it can hold in memory, naming the biggest file, exit 2", async () => {
    // 3 GiB on paper, refused from its size alone, before a byte is read.
    const res = await runWithSparseFile("huge", "3G");
    expect(res.stderr.trim().split("\n").at(-1)).toMatch(/^dstack: the working tree is 3\.2 GB, more than the 2\.1 GB this CLI packs \(the biggest files: weights\.bin \(3\.2 GB\)/);
    expect(res.stderr).not.toMatch(/submitted/);
    expect(res.code).toBe(2);
  });


  it("says the token was refused, once and with the server's advice, and exits 4", async () => {
    const res = await cli(["runs"], { env: { DSTACK_TOKEN: "wrong" } });
    expect(res).toEqual({
      code: 4,
      stdout: "",
      stderr: `dstack: the server at ${service.url} refused the token: the API token is not valid for this service; check DSTACK_TOKEN or \`dstack config\`\n`,
    });
  });

  it("says the server is unreachable and exits 5", async () => {
    const port = await freePort();
    const res = await cli(["runs"], { env: { DSTACK_URL: `http://127.0.0.1:${port}` } });
    expect(res.code).toBe(5);
    expect(res.stderr).toBe(
      `dstack: cannot reach the dstack server at http://127.0.0.1:${port} (connection refused); is it running (\`npm start\`)? Set its address with DSTACK_URL or \`dstack config --url URL\`\n`,
    );
  });

  it("says an unknown run does not exist and exits 2", async () => {
    const res = await cli(["logs", "nosuchrun"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('dstack: run "nosuchrun" does not exist\n');
  });

  it("asks for a token when none is configured, exit 3", async () => {
    const res = await cli(["runs"], { env: { DSTACK_TOKEN: "" } });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/^dstack: no API token: set DSTACK_TOKEN or run `dstack config --token`/);
  });
});

describe("messages a new user meets in the first hour", () => {
  it("refuses an unknown option written before the workflow as an option, not as an unknown workflow, exit 2", async () => {
    const res = await cli(["run", "--badflag", "hello"]);
    expect(res).toEqual({
      code: 2,
      stdout: "",
      stderr: "dstack: unknown option `--badflag` of `dstack run`: name the workflow (or provider) first, then its arguments: `dstack run <workflow|provider> --badflag ...`\n",
    });
  });

  it("prints a warning of the submitted run with one `warning:`, at its place", async () => {
    const res = await cli(["run", "broken", "--bogus", "3"]);
    expect(res.code).toBe(0);
    expect(res.stderr.split("\n")[1]).toBe(
      "dstack: <command line>:1:8: warning: `--bogus 3` is not an option of `broken` and it does not use `${{ run.args }}`, so these arguments are ignored",
    );
  });

  it("tells a CLI user to tag a run with `dstack tags add` when a tag dependency is missing", async () => {
    const res = await cli(["run", "needs-tag"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n").at(-1)).toBe(
      "dstack: `hello:never-tagged` (a dependency of needs-tag): no run in acme/cli-demo is tagged never-tagged; tag one with `dstack tags add never-tagged <run>`",
    );
  });

  it("does not deny that a tag exists when it tags only another workflow's run", async () => {
    const hello = await cli(["run", "hello", "-f"]);
    expect(hello.code).toBe(0);
    const id = /run ([a-z0-9]+) \(hello\) submitted/.exec(hello.stderr)?.[1] as string;
    expect((await cli(["tags", "add", "only-hello", id])).code).toBe(0);
    const res = await cli(["run", "bash", "-c", "ls", "--dep", "slow:only-hello"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n").at(-1)).toBe(
      "dstack: `slow:only-hello` (a dependency of bash): no run of slow in acme/cli-demo is tagged only-hello (it tags a run of hello); tag one with `dstack tags add only-hello <run>`",
    );
  }, 60_000);

  it("says which filter matched nothing instead of calling the repository empty", async () => {
    const res = await cli(["runs", "-w", "no-such-workflow", "-s", "done"]);
    expect(res).toEqual({ code: 0, stdout: "", stderr: "dstack: no runs of `no-such-workflow` with status done in acme/cli-demo\n" });
  });

  it("refuses a limit that is not a whole number with its own words, exit 2", async () => {
    const res = await cli(["runs", "-n", "abc"]);
    expect(res).toEqual({ code: 2, stdout: "", stderr: 'dstack: -n/--limit must be a whole number from 1 to 500, got "abc"\n' });
  });

  it("refuses a limit over the server's and an unknown status in its own words, not the server's query errors, exit 2", async () => {
    expect(await cli(["runs", "-n", "100000"])).toEqual({ code: 2, stdout: "", stderr: 'dstack: -n/--limit must be a whole number from 1 to 500, got "100000"\n' });
    expect(await cli(["runs", "-s", "fail"])).toEqual({
      code: 2,
      stdout: "",
      stderr: 'dstack: -s/--status "fail" is not a run status; use one of submitted, provisioning, running, uploading, done, failed, stopped, timed_out\n',
    });
    expect((await cli(["runs", "-n", "500", "-s", "timed_out"])).code).toBe(0);
  });

  it("ends a usage error with the command's --help, in one line, unless a suggestion already says what to type", async () => {
    const cases: Array<[string[], string]> = [
      [["tags", "add", "v1"], "dstack: missing required argument 'run'; see `dstack tags add --help`\n"],
      [["logs", "abc", "extra"], "dstack: too many arguments for 'logs'. Expected 1 argument but got 2; see `dstack logs --help`\n"],
      [["artifacts", "frob"], "dstack: unknown command 'frob'; see `dstack artifacts --help`\n"],
      [["frob"], "dstack: unknown command 'frob'; see `dstack --help`\n"],
      [["runs", "--jsn"], "dstack: unknown option '--jsn'; did you mean --json?\n"],
    ];
    for (const [args, stderr] of cases) expect(await runCliInProcess(args, repo)).toEqual({ code: 2, stdout: "", stderr });
  });

  it("offers --repo to a repository command run outside a checkout, exit 2", async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), "dstack-cli-outside-"));
    try {
      const res = await runCli(["runs"], outside, { env });
      expect(res).toEqual({ code: 2, stdout: "", stderr: "dstack: not inside a Git repository: run dstack in a checkout of the repository, or pass the repository as --repo owner/name\n" });
      expect((await runCli(["runs", "--repo", "acme/cli-demo", "--json"], outside, { env })).code).toBe(0);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });
});

describe("dstack config", () => {
  it("stores the URL and token readable by the owner only, and the environment overrides them", async () => {
    const noEnv = { DSTACK_URL: "", DSTACK_TOKEN: "" };
    const set = await cli(["config", "--url", service.url, "--token"], { env: noEnv, input: `${service.keys.apiToken}\n` });
    expect(set.code).toBe(0);
    const file = path.join(configHome, "dstack", "config.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ url: service.url, token: service.keys.apiToken });
    expect(set.stdout).not.toContain(service.keys.apiToken);
    // The stored configuration is enough to talk to the server.
    expect((await cli(["runs", "--json"], { env: noEnv })).code).toBe(0);
    const shown = await cli(["config", "--json"], { env: { DSTACK_URL: "http://example.test:1234", DSTACK_TOKEN: "" } });
    expect(JSON.parse(shown.stdout)).toEqual({ url: "http://example.test:1234", urlSource: "env", tokenSet: true, tokenSource: "file", file });
    expect(set.stderr).toContain(`dstack: ${service.url} accepts the token\n`);
  });

  it("tries what was set with the server: a refused token exits 4 (kept, to be corrected), a server that does not answer is a note", async () => {
    const noEnv = { DSTACK_URL: "", DSTACK_TOKEN: "" };
    const wrong = await cli(["config", "--url", service.url, "--token", "not-the-token"], { env: noEnv });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain(`dstack: ${service.url} refuses the token: `);
    expect(wrong.stderr).not.toContain("not-the-token");
    const down = await cli(["config", "--url", "http://127.0.0.1:9", "--token", service.keys.apiToken], { env: noEnv });
    expect(down.code).toBe(0);
    expect(down.stderr).toMatch(/dstack: note: cannot reach the dstack server at http:\/\/127\.0\.0\.1:9 .*; the token is checked when it answers\n/);
    expect(down.stderr).not.toContain(service.keys.apiToken);
    await cli(["config", "--url", service.url], { env: noEnv });
  });
});

describe("--help", () => {
  it.each(["run", "runs", "logs", "stop", "artifacts list", "artifacts download", "tags list", "tags add", "tags delete", "secrets list", "secrets add", "secrets delete", "config", "login", "tokens list", "tokens revoke"])(
    "documents `dstack %s`",
    async (command: string) => {
      const res = await cli([...command.split(" "), "--help"]);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^Usage: dstack /);
    },
  );
});
