import { AgentApiError, type AgentClient } from "./client.js";
import { HeartbeatReply } from "./job-spec.js";

/** Why the agent stops a run that did not fail by itself (asked to stop, timed out, orphaned). */
export class StopRequested extends Error {}

export interface HeartbeatOptions {
  intervalMs: number;
  /**
   * Stop the run when no heartbeat got through for this long: the service is gone (or this
   * machine is cut off), nobody will collect the result, and on EC2 the instance would bill on.
   * The user data shuts the instance down once the agent exits.
   */
  lostAfterMs: number;
  now?: () => number;
}

/**
 * Heartbeats the run every `intervalMs` and aborts `stop` with a `StopRequested` when the service
 * says stop, no longer knows this runner, or has not answered for `lostAfterMs`.
 */
export function startHeartbeat(client: Pick<AgentClient, "json">, options: HeartbeatOptions, stop: AbortController): { stop(): void } {
  const now = options.now ?? Date.now;
  let stopped = false;
  let lastOk = now();
  const abort = (reason: string) => {
    if (!stop.signal.aborted) stop.abort(new StopRequested(reason));
  };
  const beat = async () => {
    try {
      const reply = HeartbeatReply.parse(await client.json("/heartbeat", { method: "POST", retries: 2 }));
      lastOk = now();
      if (reply.stop) abort(reply.reason ?? "stopped");
    } catch (err) {
      // The run is gone on the service side (deleted, token rotated): stop working for it.
      if (err instanceof AgentApiError && (err.status === 401 || err.status === 404 || err.status === 409)) {
        abort(`the service no longer accepts this runner (${err.status})`);
      } else if (now() - lastOk > options.lostAfterMs) {
        abort(`the service has not answered for ${Math.round((now() - lastOk) / 60_000)} minutes; stopping so this machine is not left running`);
      }
    }
  };
  const timer = setInterval(() => {
    if (!stopped) void beat();
  }, options.intervalMs);
  void beat();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
