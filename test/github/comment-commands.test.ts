import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { announceForkPr } from "../helpers/fork-pr-fixture.js";
import type { GitHubDouble } from "../helpers/github-double.js";
import { startPrFixture, type PrFixture } from "../helpers/pr-fixture.js";
import type { TestRedis } from "../helpers/redis.js";
import { WEBHOOK_SECRET, type TestService } from "../helpers/service.js";
import { loadWebhookExample, signAndSend } from "../helpers/webhooks.js";

/** The comment commands' finer points and the intake's cheap ignoring of deliveries that cannot lead to work. */

const OWNER = "acme";
const REPO = "commands";
const WORKFLOWS = `workflows:
  - name: prep
    help: prepares the data
    provider: bash
    commands: ["mkdir -p data", "echo prepared > data/d.txt"]
    artifacts: [data]
  - name: train
    help: trains the model on the prepared data
    provider: bash
    depends-on: [prep]
    commands: ["mkdir -p model", "cp data/d.txt model/m.txt"]
    artifacts: [model]
  - name: many
    provider: bash
    commands: ['mkdir -p out && for i in $(seq 1 12); do echo $i > out/f$i.txt; done']
    artifacts: [out]
  - name: slow
    provider: bash
    commands: ["echo started", "sleep 60"]
  - name: odd-names
    provider: bash
    commands:
      - mkdir -p out
      - echo evil > 'out/x](https:evil.example).txt'
      - echo img > 'out/<img src=x>.txt'
      - echo best > 'out/model_v1 *best*.txt'
    artifacts: [out]
`;

let fixture: PrFixture;
let redis: TestRedis;
let github: GitHubDouble;
let service: TestService;
let pr: number;
let issue: number;
let mainSha: string;
let headSha: string;

/** Alice's comment on the plain issue. */
const commentOnIssue = (body: string) => fixture.comment(body, "alice", { issueNumber: issue, isPullRequest: false });

/** Whether the intake stored or queued anything for a delivery. */
async function wasQueued(deliveryId: string): Promise<boolean> {
  const remembered = (await service.redis.exists(`${redis.prefix}:delivery:${deliveryId}`)) === 1;
  const job = await service.queues.events.getJob(deliveryId);
  return remembered || (job !== undefined && job !== null);
}

beforeAll(async () => {
  fixture = await startPrFixture({ name: "commands", owner: OWNER, repo: REPO, files: { ".dstack/workflows.yaml": WORKFLOWS } });
  ({ redis, github, service, pr, headSha } = fixture);
  mainSha = github.resolveRef(OWNER, REPO, "main");
  issue = github.addIssue({ owner: OWNER, repo: REPO, title: "a plain issue" });
});

afterAll(async () => {
  await fixture?.stop();
});

describe("the webhook intake ignores cheaply", () => {
  it("acknowledges a comment without a `/dstack` line with 2xx and queues nothing", async () => {
    const sent = await fixture.comment("LGTM, but see\n  the /dstack docs");
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.body)).toMatchObject({ ignored: true });
    expect(await wasQueued(sent.deliveryId)).toBe(false);
  });

  it("acknowledges an event the app does not handle with 2xx and queues nothing", async () => {
    const payload = loadWebhookExample("issues", "opened");
    const sent = await signAndSend(service.webhookUrl, { event: "issues", payload, secret: WEBHOOK_SECRET });
    expect(sent.status).toBe(200);
    expect(await wasQueued(sent.deliveryId)).toBe(false);
  });

  it("never runs the commands of an edited comment again", async () => {
    const before = github.checkRuns.length;
    const sent = await fixture.comment("/dstack run prep", "alice", { action: "edited" });
    expect(sent.status).toBe(200);
    expect(await wasQueued(sent.deliveryId)).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(github.checkRuns.length).toBe(before);
  });

  it("ignores a bot's comment even when it holds a command", async () => {
    const sent = await fixture.comment("/dstack run prep", "other-app[bot]", { userType: "Bot" });
    expect(sent.status).toBe(200);
    expect(await wasQueued(sent.deliveryId)).toBe(false);
  });

  it("still queues a command, once: a redelivery is answered 2xx and not queued again", async () => {
    const first = await fixture.comment("/dstack help");
    expect(first.status).toBe(202);
    expect(await wasQueued(first.deliveryId)).toBe(true);
    const again = await signAndSend(service.webhookUrl, { event: "issue_comment", payload: first.payload, secret: WEBHOOK_SECRET, deliveryId: first.deliveryId });
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ duplicate: true });
    await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /dstack help")), { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 500));
    expect(github.commentsOn(OWNER, REPO, pr).filter((c) => c.body.startsWith("> /dstack help"))).toHaveLength(1);
  });
});

describe("comment commands", () => {
  it("`/dstack help` lists the workflows with their help text and the commands", async () => {
    await commentOnIssue("/dstack help");
    const help = await github.waitFor((g) => g.commentsOn(OWNER, REPO, issue).find((c) => c.body.startsWith("> /dstack help")), { timeoutMs: 10_000 });
    expect(help.body).toContain("- `prep` — prepares the data");
    expect(help.body).toContain("- `train` — trains the model on the prepared data");
    expect(help.body).toContain("- `many`\n");
    expect(help.body).toContain("`/dstack stop <run>`");
  });

  it("runs a command on a plain issue at the default branch head", async () => {
    await commentOnIssue("/dstack run prep");
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: prep" && c.status === "completed"), { timeoutMs: 20_000 });
    expect(done.head_sha).toBe(mainSha);
    expect(done.head_sha).not.toBe(headSha);
    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, issue).find((c) => c.body.includes("dstack: prep")), { timeoutMs: 10_000 });
    expect(report.body).toContain("[data/d.txt](");
  });

  it("reports a run with dependencies in one comment, edited in place as each run ends", async () => {
    const sent = await fixture.comment("/dstack run train");
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: train" && c.head_sha === headSha && c.status === "completed"), {
      timeoutMs: 30_000,
    });
    expect(done.conclusion).toBe("success");
    const report = await github.waitFor(
      (g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.id > sent.commentId && c.body.includes("dstack: train") && c.body.includes("model/m.txt")),
      { timeoutMs: 10_000 },
    );
    expect(report.body).toContain("✅ **dstack: prep** succeeded");
    expect(report.body).toContain("✅ **dstack: train** succeeded");
    expect(github.commentsOn(OWNER, REPO, pr).filter((c) => c.id > sent.commentId && c.body.includes("dstack: prep"))).toHaveLength(1);
    expect(github.commentHistory(report.id)).toHaveLength(2);
    github.assertNoViolations();
  });

  it("folds a long artifact list into <details>", async () => {
    await fixture.comment("/dstack run many");
    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("dstack: many") && c.body.includes("out/f12.txt")), {
      timeoutMs: 20_000,
    });
    expect(report.body).toContain("<details><summary>12 files</summary>");
    expect(report.body.indexOf("</details>")).toBeGreaterThan(report.body.indexOf("out/f12.txt"));
  });

  it("runs a fork's PR only when a writer asks, pinned to the head commit at that moment, and says it gets no secrets", async () => {
    github.createBranch(OWNER, REPO, "from-fork");
    const forkSha = github.commit(OWNER, REPO, { "fork.txt": "f\n" }, { branch: "from-fork" });
    const forkPr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "from-fork", headRepoFullName: "mallory/commands", user: "mallory" });
    await announceForkPr(service, fixture.redis.prefix, { owner: OWNER, repo: REPO, number: forkPr, headSha: forkSha, headRepoFullName: "mallory/commands" });
    const sent = await fixture.comment("/dstack run prep", "alice", { issueNumber: forkPr });
    expect(sent.status).toBe(202);
    const created = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: prep" && c.head_sha === forkSha), { timeoutMs: 10_000 });
    github.commit(OWNER, REPO, { "fork.txt": "later\n" }, { branch: "from-fork" }); // a later push is not run
    const done = await github.waitFor((g) => g.checkRuns.find((c) => c.id === created.id && c.status === "completed"), { timeoutMs: 20_000 });
    expect(done.conclusion).toBe("success");
    expect(done.output.summary).toContain("This run comes from a fork: it received no secrets.");
    expect((await service.store.get(done.external_id)).trigger.fork).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(github.checkRuns.filter((c) => c.name === "dstack: prep" && c.head_sha !== forkSha && c.id > created.id)).toEqual([]);
  });

  it("reads `/DSTACK` in capitals and a no-break space as the command they look like", async () => {
    const sent = await fixture.comment("/DSTACK\u00a0help");
    expect(sent.status).toBe(202);
    const help = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /DSTACK\u00a0help")), { timeoutMs: 10_000 });
    expect(help.body).toContain("- `prep` — prepares the data");
  });

  it("starts a run and says in a reply which of the command's arguments it ignores", async () => {
    const sent = await fixture.comment("/dstack run prep --epochs 3");
    const warned = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /dstack run prep --epochs 3")), { timeoutMs: 10_000 });
    expect(warned.body).toContain("**Started, with a warning**");
    expect(warned.body).toContain("`--epochs 3` is not an option of `prep` and it does not use `${{ run.args }}`, so these arguments are ignored");
    await github.waitFor((g) => g.reactions.find((r) => r.commentId === sent.commentId && r.content === "eyes"), { timeoutMs: 10_000 });
  });

  it("refuses an unknown workflow in one message that names the workflows once", async () => {
    const sent = await fixture.comment("/dstack run trian");
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith("> /dstack run trian")), { timeoutMs: 10_000 });
    expect(reply.body).toContain("`trian` is neither a workflow nor a provider — did you mean `train`?");
    expect(reply.body.split("`prep`")).toHaveLength(2);
    expect(reply.body).not.toContain("<command line>");
    expect(github.reactions.filter((r) => r.commentId === sent.commentId)).toEqual([]);
  });

  it("refuses to tag a run that is still going, without saying it ended", async () => {
    await fixture.comment("/dstack run slow");
    const check = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: slow" && c.status === "in_progress"), { timeoutMs: 20_000 });
    await fixture.comment(`/dstack tag ${check.external_id} v1`);
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.startsWith(`> /dstack tag ${check.external_id} v1`)), { timeoutMs: 10_000 });
    expect(reply.body).toMatch(new RegExp(`run \`${check.external_id}\` is still (running|provisioning|uploading): only successful runs can be tagged`));
    expect(reply.body).not.toContain("ended");
    await fixture.comment(`/dstack stop ${check.external_id}`);
    const stopped = await github.waitFor((g) => g.checkRuns.find((c) => c.id === check.id && c.status === "completed"), { timeoutMs: 20_000 });
    expect(stopped.conclusion).toBe("cancelled");
  });

  it("answers `/dstack help` on a pull request whose `.dstack/` is broken with its errors, at their lines", async () => {
    github.createBranch(OWNER, REPO, "broken-help");
    github.commit(OWNER, REPO, { ".dstack/workflows.yaml": "workflows:\n  - name: a\n    provider: bash\n    comands: [x]\n" }, { branch: "broken-help" });
    const brokenPr = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "broken-help" });
    await fixture.comment("/dstack help", "alice", { issueNumber: brokenPr });
    const help = await github.waitFor((g) => g.commentsOn(OWNER, REPO, brokenPr).find((c) => c.body.startsWith("> /dstack help")), { timeoutMs: 10_000 });
    expect(help.body).toContain("`.dstack/` has errors there (below), so none of them runs until they are fixed");
    expect(help.body).toContain("- `.dstack/workflows.yaml:4:5`: unknown field `comands`");
  });

  it("says that a pull request's head has no `.dstack/` when a command names a workflow there", async () => {
    github.createBranch(OWNER, REPO, "no-dstack");
    const sha = github.commit(OWNER, REPO, { ".dstack/workflows.yaml": null }, { branch: "no-dstack" });
    const bare = github.addPullRequest({ owner: OWNER, repo: REPO, headRef: "no-dstack" });
    await fixture.comment("/dstack run train", "alice", { issueNumber: bare });
    const reply = await github.waitFor((g) => g.commentsOn(OWNER, REPO, bare).find((c) => c.body.startsWith("> /dstack run train")), { timeoutMs: 10_000 });
    expect(reply.body).toContain(`\`.dstack/\` at \`${sha.slice(0, 7)}\`, the pull request's head, defines no workflows`);
  });

  it("shows artifact file names as written in link text: a name cannot add a link, HTML or emphasis", async () => {
    await fixture.comment("/dstack run odd-names");
    const report = await github.waitFor((g) => g.commentsOn(OWNER, REPO, pr).find((c) => c.body.includes("dstack: odd-names") && c.body.includes("model_v1")), {
      timeoutMs: 20_000,
    });
    const check = await github.waitFor((g) => g.checkRuns.find((c) => c.name === "dstack: odd-names" && c.status === "completed"), { timeoutMs: 10_000 });
    for (const body of [report.body, check.output.summary ?? ""]) {
      expect(body).toContain("- [out/x\\](https:evil.example).txt](http");
      expect(body).toContain("- [out/\\<img src=x\\>.txt](http");
      expect(body).toContain("- [out/model_v1 \\*best\\*.txt](http");
    }
    // The link still downloads the file the text names.
    const line = report.body.split("\n").find((l) => l.startsWith("- [out/x\\]")) ?? "";
    const url = /\]\((http:\/\/127\.0\.0\.1[^)\s]+)\) \(/.exec(line)?.[1] ?? "";
    expect(await (await fetch(url)).text()).toBe("evil\n");
  });

  it("runs each of several commands in one comment", async () => {
    const before = github.checkRuns.filter((c) => c.name === "dstack: prep").length;
    await fixture.comment("first this:\n/dstack run prep\nthen that:\n/dstack run prep --gpu 0");
    await github.waitFor((g) => g.checkRuns.filter((c) => c.name === "dstack: prep").length === before + 2, { timeoutMs: 10_000 });
  });
});
