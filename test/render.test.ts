import { describe, expect, it } from "@jest/globals";
import { escapeMarkdown, fenceFor, GITHUB_LIMITS, render, truncate } from "../src/render.js";
import { machineFacts, machineFactsView } from "../src/runs/machine-facts.js";

describe("fenceFor", () => {
  it("is three backticks for plain text and longer than any backtick run inside", () => {
    expect(fenceFor("plain")).toBe("```");
    expect(fenceFor("a ```` b ` c")).toBe("`````");
  });
});

describe("escapeMarkdown", () => {
  it("neutralises links, emphasis, mentions and HTML in user text, on one line", () => {
    expect(escapeMarkdown("[x](http://evil) *b* @team <img>\nnext")).toBe("\\[x\\]\\(http://evil\\) \\*b\\* \\@team \\<img\\> next");
  });
});

describe("truncate", () => {
  it("leaves short text alone and cuts long text to the limit, saying so", () => {
    expect(truncate("short", 10)).toBe("short");
    const cut = truncate("y".repeat(GITHUB_LIMITS.commentBody + 10), GITHUB_LIMITS.commentBody);
    expect(cut.length).toBe(GITHUB_LIMITS.commentBody);
    expect(cut.endsWith("(truncated to fit GitHub's limit)")).toBe(true);
  });
});

describe("templates", () => {
  it("check-run-text: a log full of backticks cannot close its fence", () => {
    const tail = "before\n```\nnot markdown\n````";
    const text = render("check-run-text", { tail, omittedBytes: 0 });
    const fence = "`````";
    expect(text).toBe(`${fence}\n${tail}\n${fence}\n`);
  });

  it("check-run-text: says how much earlier output is not shown and links the full log", () => {
    const text = render("check-run-text", { tail: "last", omittedBytes: 2048, omitted: "2.0 KB", logUrl: "http://svc/runs/r1/log" });
    expect(text).toContain("… 2.0 KB of earlier output — full log: http://svc/runs/r1/log");
  });

  const commentRun = (over: Record<string, unknown> = {}) => ({
    icon: "✅",
    workflow: "hello",
    statusLabel: "succeeded",
    runId: "r1",
    runUrl: "http://svc/runs/r1",
    duration: "3s",
    artifacts: [
      { path: "out/result.txt", url: "http://dl/1", size: "12 B", image: false },
      { path: "out/loss.png", url: "http://dl/2", size: "2.0 KB", image: true },
    ],
    artifactsOmitted: 0,
    artifactCount: 2,
    collapsed: false,
    ...over,
  });

  it("run-comment: one line per run of the group, one Markdown link per artifact file, images inline, link expiry stated", () => {
    const body = render("run-comment", {
      runs: [
        commentRun({ workflow: "download", runId: "r0", runUrl: "http://svc/runs/r0", artifacts: [], artifactCount: 0 }),
        commentRun(),
      ],
      commit: "abc1234",
      anyArtifacts: true,
      expires: "in 7 days (2026-12-07)",
    });
    expect(body).toMatchSnapshot();
    expect(body).toContain("✅ **dstack: download** succeeded — run [r0](http://svc/runs/r0) in 3s\n✅ **dstack: hello** succeeded");
    expect(body).toContain("- [out/result.txt](http://dl/1) (12 B)");
    expect(body).toContain("![out/loss.png](http://dl/2)");
    expect(body).not.toContain("<details>");
  });

  it("run-comment: folds a long artifact list into <details>", () => {
    const body = render("run-comment", {
      runs: [commentRun({ collapsed: true, artifactCount: 40, artifactsOmitted: 0 })],
      commit: "abc1234",
      anyArtifacts: true,
      expires: "in 7 days (2026-12-07)",
    });
    expect(body).toMatch(/<details><summary>40 files<\/summary>\n\n- \[out\/result\.txt\]/);
    expect(body.indexOf("</details>")).toBeGreaterThan(body.indexOf("out/loss.png"));
  });

  it("run-comment: a run still going has no duration and no artifacts", () => {
    const body = render("run-comment", {
      runs: [commentRun({ icon: "🏃", statusLabel: "running", duration: undefined, artifacts: [], artifactCount: 0 })],
      commit: "abc1234",
      anyArtifacts: false,
      expires: "x",
    });
    expect(body).toContain("🏃 **dstack: hello** running — run [r1](http://svc/runs/r1)\n");
    expect(body).not.toContain("Links expire");
  });

  it("check-run-summary: the run's facts, the failure reason and the fork notice", () => {
    const summary = render("check-run-summary", {
      statusLabel: "failed",
      reason: "exit code 2",
      trigger: "comment by @alice on #7",
      provider: "bash",
      resources: "default",
      machine: "local pid 42",
      commit: "abc123456789",
      duration: "1m 2s",
      dependencies: [{ workflow: "download", status: "done", url: "http://svc/runs/r0" }],
      runId: "r1",
      runUrl: "http://svc/runs/r1",
      fork: true,
      artifacts: [],
      artifactsOmitted: 0,
    });
    expect(summary).toMatchSnapshot();
    expect(summary).toContain("**failed**: exit code 2");
    expect(summary).toContain("| Dependencies | [download](http://svc/runs/r0) (done) |");
    expect(summary).toContain("it received no secrets");
  });

  it("a reason the workflow's agent wrote is text in the check run and the PR comment: no link, image, HTML, mention or new block", () => {
    const reason = "done\n\n# Approved ![x](http://evil/p.png) [download](http://evil) <img src=x> @acme/everyone";
    const summary = render("check-run-summary", { statusLabel: "failed", reason, artifacts: [], dependencies: [] });
    const line = summary.split("\n")[0] ?? "";
    expect(line).toBe("**failed**: done  # Approved !\\[x\\](http://evil/p.png) \\[download\\](http://evil) \\<img src=x\\> @acme/everyone");
    const comment = render("run-comment", { runs: [commentRun({ statusLabel: "failed", reason, artifacts: [] })], commit: "abc1234" });
    expect(comment).toContain(`failed: ${escapeMarkdown(reason)} — run [r1]`);
    const shown = comment.slice(comment.indexOf("failed: "), comment.indexOf(" — run [r1]"));
    expect(shown).not.toMatch(/(^|[^\\])[[\]<@]/);
  });

  it("check-run-summary: the approval message is the service's own Markdown", () => {
    const summary = render("check-run-summary", { statusLabel: "queued", waiting: "waiting for approval: comment `/dstack approve r1`", reason: "ignored", artifacts: [], dependencies: [] });
    expect(summary.startsWith("**queued**: waiting for approval: comment `/dstack approve r1`\n")).toBe(true);
    expect(summary).not.toContain("ignored");
  });

  it("check-run-summary: an EC2 spot run's instance, boot time, run time, cost and the capacity walk", () => {
    const launchedAt = Date.UTC(2026, 10, 30, 12, 0, 0);
    const run = {
      machine: {
        backend: "ec2",
        id: "i-0123456789abcdef0",
        description: "g5.xlarge (1x A10G) spot in us-east-1b, i-0123456789abcdef0",
        details: { instanceId: "i-0123456789abcdef0", instanceType: "g5.xlarge", market: "spot", zone: "us-east-1b", pricePerHour: 0.4, gpuCount: 1, gpuName: "A10G", launchedAt },
      },
      provisioningAt: launchedAt - 2_000,
      agentContactAt: launchedAt + 95_000,
      startedAt: launchedAt + 97_000,
      finishedAt: launchedAt + 97_000 + 30 * 60_000,
    };
    const summary = render("check-run-summary", {
      statusLabel: "succeeded",
      trigger: "comment by @alice on #7",
      provider: "bash",
      resources: "1× GPU A10G, interruptible (spot)",
      machine: run.machine.description,
      facts: machineFactsView(machineFacts(run, launchedAt + 3 * 3600_000), true),
      provisioningNotes: ["no g5.xlarge spot capacity in us-east-1a (InsufficientInstanceCapacity), trying us-east-1b", "started g5.xlarge spot in us-east-1b after 1 try"],
      commit: "abc123456789",
      duration: "30m 0s",
      dependencies: [],
      runId: "r1",
      runUrl: "http://svc/runs/r1",
      fork: false,
      artifacts: [],
      artifactsOmitted: 0,
    });
    expect(summary).toMatchSnapshot();
    expect(summary).toContain("| Instance type | `g5.xlarge (1x A10G)` |\n| Zone | us-east-1b |\n| Market | spot |\n| Instance | `i-0123456789abcdef0` |\n");
    expect(summary).toContain("| Boot time | 1m 37s |\n| Cost | $0.21 at $0.4/h |\n");
    // The run time is the Duration row (agent start to end).
    expect(summary).toContain("| Duration | 30m 0s |");
    expect(summary).not.toContain("| Machine |");
  });

  it("run-comment: each run's cost and the group's total", () => {
    const body = render("run-comment", {
      runs: [commentRun({ workflow: "download", runId: "r0", cost: "$0.0031", artifacts: [], artifactCount: 0 }), commentRun({ cost: "$1.20" })],
      totalCost: "$1.20",
      commit: "abc1234",
      anyArtifacts: true,
      expires: "in 7 days (2026-12-07)",
    });
    expect(body).toContain("— run [r0](http://svc/runs/r1) in 3s, cost $0.0031\n");
    expect(body).toContain("\n**Total cost: $1.20** (hourly price × time of each run's machine)\n");
  });

  it("reply: quotes the command and lists each located problem", () => {
    const body = render("reply", {
      command: "/dstack run trian",
      title: "Nothing ran",
      message: "`trian` is not a workflow",
      items: ["`train`", "`download`"],
      problems: [{ file: ".dstack/workflows.yaml", line: 3, column: 5, message: "unknown field" }],
    });
    expect(body).toMatchSnapshot();
    expect(body.startsWith("> /dstack run trian\n")).toBe(true);
    expect(body).toContain("- `.dstack/workflows.yaml:3:5`: unknown field");
  });

  it("run-page.html escapes what it shows", () => {
    const html = render("run-page.html", { runId: "r1", workflow: "<b>x</b>", status: "done", reason: "<script>alert(1)</script>", artifacts: [] });
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("dstack: &lt;b&gt;x&lt;/b&gt;");
  });
});
