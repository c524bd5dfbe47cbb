import { describe, expect, it } from "@jest/globals";
import { AgentApiError } from "../../../runners/agent/client.js";
import { startHeartbeat, StopRequested } from "../../../runners/agent/heartbeat.js";

/** A client whose /heartbeat answers come from `answer`, on a clock the test moves. */
function fakeClient(answer: () => unknown) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    client: {
      async json<T>(): Promise<T> {
        calls++;
        const a = answer();
        if (a instanceof Error) throw a;
        return a as T;
      },
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 25));

describe("agent heartbeat", () => {
  it("keeps the run going while the service answers, and stops it when told to", async () => {
    let reply: unknown = { stop: false };
    const { client } = fakeClient(() => reply);
    const stop = new AbortController();
    const hb = startHeartbeat(client, { intervalMs: 5, lostAfterMs: 60_000 }, stop);
    await tick();
    expect(stop.signal.aborted).toBe(false);
    reply = { stop: true, reason: "stopped by @alice" };
    await tick();
    hb.stop();
    expect(stop.signal.reason).toBeInstanceOf(StopRequested);
    expect((stop.signal.reason as Error).message).toBe("stopped by @alice");
  });

  it("stops at once when the service no longer knows this runner", async () => {
    const { client } = fakeClient(() => new AgentApiError(401, "token rotated"));
    const stop = new AbortController();
    const hb = startHeartbeat(client, { intervalMs: 5, lostAfterMs: 60_000 }, stop);
    await tick();
    hb.stop();
    expect((stop.signal.reason as Error).message).toContain("no longer accepts this runner (401)");
  });

  it("rides out a short outage, and stops the run once the service has been gone past the limit", async () => {
    let clock = 0;
    const { client } = fakeClient(() => new Error("ECONNREFUSED"));
    const stop = new AbortController();
    const hb = startHeartbeat(client, { intervalMs: 5, lostAfterMs: 10 * 60_000, now: () => clock }, stop);
    clock = 9 * 60_000;
    await tick();
    expect(stop.signal.aborted).toBe(false);
    clock = 11 * 60_000;
    await tick();
    hb.stop();
    expect(stop.signal.reason).toBeInstanceOf(StopRequested);
    expect((stop.signal.reason as Error).message).toContain("has not answered for 11 minutes");
  });
});
