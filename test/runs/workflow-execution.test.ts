import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { runArtifactKey } from "../../src/artifacts/index.js";
import type { Run } from "../../src/runs/types.js";
import { startGitHubDouble, type CheckRun, type GitHubDouble } from "../helpers/github-double.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startTestService, WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { makeIssueCommentPayload, signAndSend } from "../helpers/webhooks.js";

/**
 * Workflows executed end to end through the local runner: a PR comment -> the service -> real agent
 * processes -> check runs, artifacts and replies on the GitHub double. One service for the file;
 * each test waits for its own runs to end, so they never overlap.
 */

const OWNER = "acme";
const REPO = "exec";

const WORKFLOWS = `workflows:
  - name: download
    provider: bash
    commands:
      - mkdir -p data
      - echo "data of run $DSTACK_RUN_ID" > data/file.txt
    artifacts: [data]
  - name: prepare
    provider: bash
    depends-on: [download]
    working_dir: stage
    commands:
      - echo "prepare read <$(cat data/file.txt)> in $(basename "$PWD")"
      - mkdir -p out
      - sed 's/data of/prepared from/' data/file.txt > out/prepared.txt
    artifacts: [out]
  - name: a
    provider: bash
    commands:
      - mkdir -p a
      - echo "a is run $DSTACK_RUN_ID" > a/a.txt
    artifacts: [a]
  - name: b
    provider: bash
    depends-on: [a]
    commands: ["mkdir -p b", "sed 's/^/b saw: /' a/a.txt > b/b.txt"]
    artifacts: [b]
  - name: c
    provider: bash
    depends-on: [a]
    commands: ["mkdir -p c", "sed 's/^/c saw: /' a/a.txt > c/c.txt"]
    artifacts: [c]
  - name: d
    provider: bash
    depends-on: [b, c]
    commands: ["cat b/b.txt c/c.txt"]
  - name: reuse-tagged
    provider: bash
    depends-on: [download:v1]
    commands: ['echo "tagged input <$(cat data/file.txt)>"']
  - name: reuse-latest
    provider: bash
    depends-on: [download:latest]
    commands: ['echo "latest input <$(cat data/file.txt)>"']
  - name: reuse-missing
    provider: bash
    depends-on: [download:no-such-tag]
    commands: ["cat data/file.txt"]
  - name: show-vars
    provider: bash
    commands:
      - echo "env EPOCHS=$EPOCHS BATCH_SIZE=$BATCH_SIZE GREETING=$GREETING"
      - echo "substituted epochs=\${{ epochs }} batch-size=\${{ batch-size }} greeting=\${{ greeting }}"
      - echo "run name=\${{ run.name }}"
  - name: train
    provider: python
    file: train.py
    requirements: requirements.txt
    artifacts: [model]
  - name: containers
    provider: docker
    image: ubuntu
    commands: ["echo from a container"]
  - name: dist
    provider: torchrun
    file: train.py
  - name: ide
    provider: code
  - name: jlab
    provider: lab
  - name: nb
    provider: notebook
  - name: st
    provider: streamlit
    target: app.py
  - name: gr
    provider: gradio
    file: app.py
  - name: api
    provider: fastapi
    app: main:app
  - name: tb
    provider: tensorboard
    runs: [some-run]
  - name: custom
    provider: hello
  - name: after-notebook
    provider: bash
    depends-on: [nb]
    commands: ["echo never"]
`;

const VARIABLES = `variables:
  global:
    greeting: hello
  show-vars:
    epochs: 3
    batch-size: 16
`;

const PROVIDERS = `providers:
  - name: hello
    image: python:3.9
    commands:
      - python3 main.py
`;

/** Proves it runs in its own environment: the package is importable and the interpreter is a venv's. */
const TRAIN = `import os, sys, tinypkg
isolated = sys.prefix != sys.base_prefix
print("tinypkg", tinypkg.VALUE, "isolated" if isolated else "NOT isolated", "prefix", sys.prefix)
os.makedirs("model", exist_ok=True)
open("model/weights.txt", "w").write("weights " + tinypkg.VALUE + "\\n")
`;

/** Options in the file itself, relative to it (pip resolves `--find-links` against the requirements file's folder). */
const REQUIREMENTS = "--no-index\n--find-links wheels\ntinypkg\n";

const SHOW_ARGS = `import os, sys
print("args", sys.argv[1:])
os.makedirs("out", exist_ok=True)
open("out/args.txt", "w").write(" ".join(sys.argv[1:]) + "\\n")
`;

const CSV = "id,label\n1,cat\n2,dog\n";

/** FAILING_DOWNLOAD replaces workflows.yaml on its own branch: `download` fails, two levels depend on it. */
const FAILING_DOWNLOAD = `workflows:
  - name: download
    provider: bash
    commands: ["echo downloading", "exit 4"]
    artifacts: [data]
  - name: prepare
    provider: bash
    depends-on: [download]
    commands: ["echo must not run"]
  - name: report
    provider: bash
    depends-on: [prepare]
    commands: ["echo must not run either"]
`;

let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let http: Server;
let httpUrl: string;
let pr: number;
let scratch: string;
let nextComment = 7000;

/** A wheel built by hand (PyPI is not reachable here), committed to the repository as bytes. */
function buildWheel(dir: string, version: string): { name: string; bytes: Buffer } {
  const name = `tinypkg-${version}-py3-none-any.whl`;
  const script = `
import zipfile, base64, hashlib, sys
out, version = sys.argv[1], sys.argv[2]
info = f"tinypkg-{version}.dist-info"
files = {"tinypkg/__init__.py": f"VALUE = '{version}'\\n",
         f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: tinypkg\\nVersion: {version}\\n",
         f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
record = []
with zipfile.ZipFile(out, "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text)}")
    record.append(f"{info}/RECORD,,")
    z.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
`;
  const file = path.join(dir, name);
  execFileSync("python3", ["-c", script, file, version]);
  return { name, bytes: readFileSync(file) };
}

async function comment(body: string, issueNumber = pr): Promise<number> {
  const commentId = nextComment++;
  github.addIssueComment({ owner: OWNER, repo: REPO, issueNumber, body, user: "alice", id: commentId });
  const payload = makeIssueCommentPayload({ owner: OWNER, repo: REPO, issueNumber, isPullRequest: true, body, user: "alice", commentId });
  const res = await signAndSend(service.webhookUrl, { event: "issue_comment", payload, secret: WEBHOOK_SECRET });
  expect(res.status).toBe(202);
  return commentId;
}

/**
 * Comments `body` and waits until the check runs it creates, exactly one per name of `workflows`,
 * are completed. Returns them by workflow name.
 */
async function runAndWait(body: string, workflows: string[], issueNumber = pr): Promise<Record<string, CheckRun>> {
  const before = github.checkRuns.length;
  await comment(body, issueNumber);
  const done: Record<string, CheckRun> = {};
  for (const name of workflows) {
    done[name] = await github.waitFor((g) => g.checkRuns.slice(before).find((c) => c.name === `dstack: ${name}` && c.status === "completed"), {
      timeoutMs: 60_000,
      description: `check run dstack: ${name} completed after "${body}"`,
    });
  }
  expect(
    github.checkRuns
      .slice(before)
      .map((c) => c.name)
      .sort(),
  ).toEqual(workflows.map((w) => `dstack: ${w}`).sort());
  return done;
}

/** The reply that quotes `line` (replies start with `> <command line>`). */
function replyTo(line: string, issueNumber = pr) {
  return github.waitFor((g) => g.commentsOn(OWNER, REPO, issueNumber).find((c) => c.body.startsWith(`> ${line}\n`)), {
    timeoutMs: 15_000,
    description: `a reply to ${line}`,
  });
}

function runOf(check: CheckRun): Promise<Run> {
  return service.store.get(check.external_id);
}

async function readArtifact(runId: string, file: string): Promise<string> {
  const stream: Readable = await service.artifacts.get(runArtifactKey(runId, file));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** A branch with `files` changed and a PR from it. */
function pullRequestWith(branch: string, files: Record<string, string | Uint8Array | null>): number {
  github.createBranch(OWNER, REPO, branch);
  github.commit(OWNER, REPO, files, { branch });
  return github.addPullRequest({ owner: OWNER, repo: REPO, headRef: branch });
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), "dstack-exec-"));
  const wheel = buildWheel(scratch, "1.0");
  http = createServer((req, res) => {
    if (req.url === "/data/labels.csv") {
      res.writeHead(200, { "content-type": "text/csv", "content-length": String(Buffer.byteLength(CSV)) });
      res.end(CSV);
      return;
    }
    res.writeHead(404).end("not here");
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const curlWorkflows = `  - name: fetch
    provider: curl
    url: ${httpUrl}/data/labels.csv
    output: raw/labels.csv
    artifacts: [raw]
  - name: fetch-missing
    provider: curl
    url: ${httpUrl}/data/missing.csv
    output: raw/missing.csv
    artifacts: [raw]
`;

  redis = await startRedis("wfexec");
  github = await startGitHubDouble();
  github.addRepo({
    owner: OWNER,
    name: REPO,
    files: {
      ".dstack/workflows.yaml": WORKFLOWS + curlWorkflows,
      ".dstack/variables.yaml": VARIABLES,
      ".dstack/providers.yaml": PROVIDERS,
      "train.py": TRAIN,
      "requirements.txt": REQUIREMENTS,
      [`wheels/${wheel.name}`]: wheel.bytes,
      "show_args.py": SHOW_ARGS,
    },
  });
  github.setPermission(OWNER, REPO, "alice", "write");
  pr = pullRequestWith("feature", { "notes.txt": "x\n" });
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix, github });
});

afterAll(async () => {
  await service?.stop();
  await github?.close();
  await redis?.stop();
  await new Promise<void>((resolve) => (http === undefined ? resolve() : http.close(() => resolve())));
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

describe("depends-on", () => {
  it("runs `download` first in the same run group and restores its artifacts at the same paths in the dependent's working dir", async () => {
    const checks = await runAndWait("/dstack run prepare", ["download", "prepare"]);
    expect(checks.download?.conclusion).toBe("success");
    expect(checks.prepare?.conclusion).toBe("success");
    const download = await runOf(checks.download as CheckRun);
    const prepare = await runOf(checks.prepare as CheckRun);
    expect(prepare.groupId).toBe(download.groupId);
    expect(prepare.needs).toEqual([download.id]);
    expect(download.finishedAt).toBeDefined();
    expect(prepare.startedAt ?? 0).toBeGreaterThanOrEqual(download.finishedAt ?? Infinity);
    expect(checks.prepare?.output.text).toContain(`prepare read <data of run ${download.id}> in stage`);
    expect(checks.prepare?.output.text).toContain("placed 1 artifact file(s) of download");
    expect(prepare.artifacts.map((a) => a.path)).toEqual(["out/prepared.txt"]);
    expect(await readArtifact(prepare.id, "out/prepared.txt")).toBe(`prepared from run ${download.id}\n`);
  });

  it("runs the shared dependency of a diamond (a <- b, a <- c, d <- b and c) once", async () => {
    const checks = await runAndWait("/dstack run d", ["a", "b", "c", "d"]);
    for (const name of ["a", "b", "c", "d"]) expect(checks[name]?.conclusion).toBe("success");
    const a = await runOf(checks.a as CheckRun);
    const d = await runOf(checks.d as CheckRun);
    const group = await service.store.groupRuns(d.groupId);
    expect(group.map((r) => r.workflow.name).sort()).toEqual(["a", "b", "c", "d"]);
    expect(checks.d?.output.text).toContain(`b saw: a is run ${a.id}`);
    expect(checks.d?.output.text).toContain(`c saw: a is run ${a.id}`);
  });
});

describe("depends-on with tags", () => {
  it("reuses the run tagged with `/dstack tag`, and for `:latest` the latest successful run unless a run is tagged `latest`", async () => {
    const first = await runOf((await runAndWait("/dstack run download", ["download"])).download as CheckRun);
    const tagComment = await comment(`/dstack tag ${first.id} v1`);
    await github.waitFor((g) => g.reactions.find((r) => r.commentId === tagComment && r.content === "eyes"), { timeoutMs: 10_000 });
    expect((await service.store.get(first.id)).tags).toEqual(["v1"]);
    const second = await runOf((await runAndWait("/dstack run download", ["download"])).download as CheckRun);

    // Only the dependent runs: the dependency's artifacts come from the tagged run.
    const tagged = await runAndWait("/dstack run reuse-tagged", ["reuse-tagged"]);
    expect(tagged["reuse-tagged"]?.conclusion).toBe("success");
    expect(tagged["reuse-tagged"]?.output.text).toContain(`tagged input <data of run ${first.id}>`);
    expect((await runOf(tagged["reuse-tagged"] as CheckRun)).inputs).toEqual([{ runId: first.id, workflow: "download" }]);

    const latest = await runAndWait("/dstack run reuse-latest", ["reuse-latest"]);
    expect(latest["reuse-latest"]?.output.text).toContain(`latest input <data of run ${second.id}>`);

    // An explicit `latest` tag wins over the latest successful run (tagged here through the run store).
    await service.store.tag(first, "latest");
    const explicit = await runAndWait("/dstack run reuse-latest", ["reuse-latest"]);
    expect(explicit["reuse-latest"]?.output.text).toContain(`latest input <data of run ${first.id}>`);
  });

  it("refuses a tag that no run has with a reply, and runs nothing", async () => {
    const before = github.checkRuns.length;
    await comment("/dstack run reuse-missing");
    const reply = await replyTo("/dstack run reuse-missing");
    expect(reply.body).toContain("Nothing ran");
    expect(reply.body).toContain(`no run in ${OWNER}/${REPO} is tagged no-such-tag`);
    expect(reply.body).toContain("/dstack tag <run> no-such-tag");
    expect(github.checkRuns.length).toBe(before);
  });
});

describe("a failed dependency", () => {
  it("stops its dependents: they end `failed` with the reason `dependency download failed`, check runs concluded", async () => {
    const failingPr = pullRequestWith("failing-download", { ".dstack/workflows.yaml": FAILING_DOWNLOAD });
    const checks = await runAndWait("/dstack run report", ["download", "prepare", "report"], failingPr);
    expect(checks.download?.conclusion).toBe("failure");
    expect(checks.prepare?.conclusion).toBe("failure");
    expect(checks.report?.conclusion).toBe("failure");
    const prepare = await runOf(checks.prepare as CheckRun);
    const report = await runOf(checks.report as CheckRun);
    expect(prepare.status).toBe("failed");
    expect(prepare.reason).toBe("dependency download failed");
    expect(report.reason).toBe("dependency prepare failed");
    expect(checks.prepare?.output.summary).toContain("dependency download failed");
    // Neither dependent got a machine or printed anything.
    expect(prepare.machine).toBeUndefined();
    expect(report.machine).toBeUndefined();
    expect(checks.prepare?.output.text ?? "").not.toContain("must not run");
  });
});

describe("variables", () => {
  it("reach the script as upper-case environment variables and `${{ name }}` substitutions, `--name value` overriding variables.yaml", async () => {
    const checks = await runAndWait("/dstack run show-vars --epochs 7 --greeting hi", ["show-vars"]);
    expect(checks["show-vars"]?.conclusion).toBe("success");
    const text = checks["show-vars"]?.output.text ?? "";
    expect(text).toContain("env EPOCHS=7 BATCH_SIZE=16 GREETING=hi");
    expect(text).toContain("substituted epochs=7 batch-size=16 greeting=hi");
    // `${{ run.name }}` is the id of the run that was asked for (chosen before the files were read).
    expect(text).toContain(`run name=${checks["show-vars"]?.external_id}`);
  });
});

describe("python", () => {
  it("installs requirements from a folder of the repository into an isolated environment, rebuilt when that folder changes", async () => {
    const first = await runAndWait("/dstack run train", ["train"]);
    expect(first.train?.conclusion).toBe("success");
    const firstText = first.train?.output.text ?? "";
    expect(firstText).toContain("creating a python environment for requirements.txt");
    expect(firstText).toMatch(new RegExp(`tinypkg 1\\.0 isolated prefix ${path.join(service.dataDir, "cache", "venvs")}`));
    const run = await runOf(first.train as CheckRun);
    expect(await readArtifact(run.id, "model/weights.txt")).toBe("weights 1.0\n");

    // Same requirements.txt, new wheel in the folder it points at: the cached environment is stale.
    const wheel = buildWheel(scratch, "2.0");
    const bumpPr = pullRequestWith("bump-tinypkg", { "wheels/tinypkg-1.0-py3-none-any.whl": null, [`wheels/${wheel.name}`]: wheel.bytes });
    const bumped = await runAndWait("/dstack run train", ["train"], bumpPr);
    expect(bumped.train?.conclusion).toBe("success");
    expect(bumped.train?.output.text).toContain("tinypkg 2.0 isolated");

    // Unchanged inputs reuse the environment.
    const again = await runAndWait("/dstack run train", ["train"], bumpPr);
    expect(again.train?.output.text).toContain("reusing the python environment");
    expect(again.train?.output.text).toContain("tinypkg 2.0 isolated");
  });
});

describe("curl", () => {
  it("downloads from a URL into `output` and uploads it as an artifact", async () => {
    const checks = await runAndWait("/dstack run fetch", ["fetch"]);
    expect(checks.fetch?.conclusion).toBe("success");
    const run = await runOf(checks.fetch as CheckRun);
    expect(run.artifacts).toEqual([{ path: "raw/labels.csv", sizeBytes: Buffer.byteLength(CSV) }]);
    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes(run.id) && c.body.includes("raw/labels.csv")), {
      timeoutMs: 10_000,
    });
    const link = /\[raw\/labels\.csv\]\(([^)]+)\)/.exec(report.body)?.[1] ?? "";
    expect(await (await fetch(link)).text()).toBe(CSV);
  });

  it("fails the run with the HTTP status when the URL answers an error", async () => {
    const checks = await runAndWait("/dstack run fetch-missing", ["fetch-missing"]);
    expect(checks["fetch-missing"]?.conclusion).toBe("failure");
    expect(checks["fetch-missing"]?.output.summary).toContain("answered 404");
  });
});

describe("docker", () => {
  it("fails with a clear message on a runner without a Docker engine", async () => {
    const checks = await runAndWait("/dstack run containers", ["containers"]);
    expect(checks.containers?.conclusion).toBe("failure");
    const run = await runOf(checks.containers as CheckRun);
    expect(run.reason).toContain("the docker provider needs a Docker engine on the runner");
    expect(checks.containers?.output.summary).toContain("needs a Docker engine");
  });
});

describe("providers that are not supported yet", () => {
  it("are refused at submit with a reply saying so, and nothing runs", async () => {
    const names = ["dist", "ide", "jlab", "nb", "st", "gr", "api", "tb", "custom", "after-notebook"];
    const before = github.checkRuns.length;
    const id = await comment(names.map((n) => `/dstack run ${n}`).join("\n"));
    const providers: Record<string, string> = {
      dist: "torchrun",
      ide: "code",
      jlab: "lab",
      nb: "notebook",
      st: "streamlit",
      gr: "gradio",
      api: "fastapi",
      tb: "tensorboard",
      custom: "hello",
      "after-notebook": "notebook",
    };
    for (const name of names) {
      const reply = await replyTo(`/dstack run ${name}`);
      expect(reply.body).toContain("Nothing ran");
      expect(reply.body).toContain(`provider \`${providers[name]}\``);
      expect(reply.body).toContain("not supported yet");
    }
    expect((await replyTo("/dstack run custom")).body).toContain(".dstack/providers.yaml");
    expect((await replyTo("/dstack run after-notebook")).body).toContain("`after-notebook` depends on `nb`, which cannot run: provider `notebook` is not supported yet");
    expect(github.checkRuns.length).toBe(before);
    expect(github.reactions.some((r) => r.commentId === id)).toBe(false);
  });
});

describe("the ad-hoc form in a comment", () => {
  it("runs `/dstack run python FILE ARGS -a DIR --gpu 0`: unknown options reach the script, the artifact is kept", async () => {
    const checks = await runAndWait("/dstack run python show_args.py --epochs 3 -a out --gpu 0", ["python"]);
    expect(checks.python?.conclusion).toBe("success");
    expect(checks.python?.output.text).toContain("args ['--epochs', '3']");
    const run = await runOf(checks.python as CheckRun);
    expect(run.workflow.resources.gpu).toBeUndefined(); // `--gpu 0` asks for no GPU
    expect(await readArtifact(run.id, "out/args.txt")).toBe("--epochs 3\n");
  });

  it("fails a python run whose file is not in the code before installing anything, naming the file it likely meant", async () => {
    const typo = await runAndWait("/dstack run python show_arg.py -r requirements.txt", ["python"]);
    expect(typo.python?.conclusion).toBe("failure");
    const run = await runOf(typo.python as CheckRun);
    expect(run.reason).toBe("file show_arg.py does not exist in the repository (did you mean show_args.py?); paths are relative to the repository's root");
    expect(typo.python?.output.text).not.toContain("creating a python environment");
    const misplaced = await runAndWait("/dstack run python show_args.py -w stage", ["python"]);
    expect((await runOf(misplaced.python as CheckRun)).reason).toBe(
      "file show_args.py does not exist in `working_dir` stage (the repository has show_args.py); paths are relative to `working_dir`",
    );
  });

  it("runs `/dstack run bash -c '...' --dep download` after its dependency, with its artifacts", async () => {
    const checks = await runAndWait(`/dstack run bash -c 'echo "ad-hoc read <$(cat data/file.txt)>"' --dep download`, ["download", "bash"]);
    expect(checks.bash?.conclusion).toBe("success");
    const download = await runOf(checks.download as CheckRun);
    expect(checks.bash?.output.text).toContain(`ad-hoc read <data of run ${download.id}>`);
  });

  it("runs `/dstack run curl URL -o OUTPUT -a ARTIFACT`", async () => {
    const checks = await runAndWait(`/dstack run curl ${httpUrl}/data/labels.csv -o raw/labels.csv -a raw`, ["curl"]);
    expect(checks.curl?.conclusion).toBe("success");
    expect(await readArtifact(checks.curl?.external_id ?? "", "raw/labels.csv")).toBe(CSV);
  });

  it("refuses an ad-hoc provider that is not supported yet", async () => {
    const before = github.checkRuns.length;
    await comment("/dstack run notebook");
    const reply = await replyTo("/dstack run notebook");
    expect(reply.body).toContain("not supported yet");
    expect(github.checkRuns.length).toBe(before);
    github.assertNoViolations();
  });
});
