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
    meta.interrupt("i-spot", 120);
    const notice = await watch.notice;
    watch.stop();
    const announced = meta.instance("i-spot").notice;
    expect(notice).toMatchObject({ action: "terminate", actionAt: announced?.body.time });
    expect(notice.seenAt - (announced?.at ?? 0)).toBeLessThan(1000);
    // IMDSv2: a token first, every GET with it (the server refuses any other).
    expect(meta.instance("i-spot").requests[0]).toBe("PUT /latest/api/token");
    expect(meta.instance("i-spot").refused).toBe(0);
  });

  it("on an on-demand instance, reads the life cycle once and never polls", async () => {
    const url = meta.urlFor("i-ondemand", "on-demand");
    const watch = nextNotice(url);
    await wait(150);
    watch.stop();
    expect(meta.instance("i-ondemand").requests).toEqual(["PUT /latest/api/token", "GET /latest/meta-data/instance-life-cycle"]);
  });

  it("stops polling when stopped, and reports a metadata service that cannot be reached", async () => {
    const url = meta.urlFor("i-stopped", "spot");
    const watch = nextNotice(url);
    await until(() => polls("i-stopped") >= 2);
    watch.stop();
    // A poll already on its way may still arrive; none starts after it.
    await wait(50);
    const seen = meta.instance("i-stopped").requests.length;
    await wait(100);
    expect(meta.instance("i-stopped").requests.length).toBe(seen);

    const problems: string[] = [];
    const dead = nextNotice("http://127.0.0.1:9/none", problems);
    await wait(300);
    dead.stop();
    expect(problems).toEqual([expect.stringContaining("cannot read the instance metadata service")]);
  });
});
