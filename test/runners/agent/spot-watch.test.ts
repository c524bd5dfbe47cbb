import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { watchSpotInterruption, type SpotNotice } from "../../../runners/agent/spot-watch.js";
import { startMetadataServer, type MetadataServer } from "../../helpers/metadata-server.js";

let meta: MetadataServer;

beforeAll(async () => {
  meta = await startMetadataServer();
});

afterAll(async () => {
  await meta.close();
});

function nextNotice(metadataUrl: string, problems: string[] = []): { notice: Promise<SpotNotice>; stop(): void } {
  let stop = () => undefined as void;
  const notice = new Promise<SpotNotice>((resolve) => {
    stop = watchSpotInterruption({ metadataUrl, intervalMs: 20, onNotice: resolve, onProblem: (m) => problems.push(m) }).stop;
  });
  return { notice, stop: () => stop() };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await wait(10);
  }
}

const polls = (id: string) => meta.instance(id).requests.filter((r) => r === "GET /latest/meta-data/spot/instance-action").length;

describe("spot interruption watch (IMDSv2)", () => {
  it("on a spot instance, polls instance-action with a session token and reports the notice with EC2's time", async () => {
    const url = meta.urlFor("i-spot", "spot");
    const watch = nextNotice(url);
    // 404 while there is no notice: it keeps looking.
    await until(() => polls("i-spot") >= 3);
    const pollsBefore = polls("i-spot");
    meta.interrupt("i-spot", 120);
    const notice = await watch.notice;
    const receivedAt = Date.now();
    watch.stop();
    const announced = meta.instance("i-spot").notice;
    expect(notice).toMatchObject({ action: "terminate", actionAt: announced?.body.time });
    // Seen by the first poll after the notice appeared (polls go one after another), and stamped
    // between its appearance and its arrival here: no wall-clock bound a loaded machine could break.
    expect(polls("i-spot")).toBe(pollsBefore + 1);
    expect(notice.seenAt).toBeGreaterThanOrEqual(announced?.at ?? Infinity);
    expect(notice.seenAt).toBeLessThanOrEqual(receivedAt);
    // IMDSv2: a token first, every GET with it (the server refuses any other).
    expect(meta.instance("i-spot").requests[0]).toBe("PUT /latest/api/token");
    expect(meta.instance("i-spot").refused).toBe(0);
  });

  it("on an on-demand instance, reads the life cycle once and never polls", async () => {
    const url = meta.urlFor("i-ondemand", "on-demand");
    const watch = nextNotice(url);
    // Its two requests, however long a loaded machine takes for them; then time for polls (20 ms apart) to show.
    await until(() => meta.instance("i-ondemand").requests.length >= 2);
    await wait(150);
    watch.stop();
    expect(meta.instance("i-ondemand").requests).toEqual(["PUT /latest/api/token", "GET /latest/meta-data/instance-life-cycle"]);
  });

  it("stops polling when stopped, and reports a metadata service that cannot be reached", async () => {
    const url = meta.urlFor("i-stopped", "spot");
    const watch = nextNotice(url);
    await until(() => polls("i-stopped") >= 2);
    const atStop = meta.instance("i-stopped").requests.length;
    watch.stop();
    // A poll already on its way may still arrive, however late a loaded machine delivers it; none
    // starts after it (15 poll intervals).
    await wait(300);
    expect(meta.instance("i-stopped").requests.length - atStop).toBeLessThanOrEqual(1);

    const problems: string[] = [];
    const dead = nextNotice("http://127.0.0.1:9/none", problems);
    await until(() => problems.length > 0);
    // Said once: the watch gives up rather than retrying every 20 ms.
    await wait(100);
    dead.stop();
    expect(problems).toEqual([expect.stringContaining("cannot read the instance metadata service")]);
  });
});
