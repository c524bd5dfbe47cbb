/** How often EC2's interruption notice is looked for: it comes two minutes before the instance is taken back. */
export const SPOT_POLL_MS = 5_000;

/** A metadata request that takes longer than this is given up (the next poll tries again). */
const REQUEST_TIMEOUT_MS = 2_000;
/** IMDSv2 session tokens live at most 6 hours; a 401 before that fetches a new one anyway. */
const TOKEN_TTL_SECONDS = 21_600;

export interface SpotNotice {
  /** When the agent saw the notice (epoch ms). */
  seenAt: number;
  /** When EC2 takes the instance back (`time` of `spot/instance-action`), when it says. */
  actionAt?: string;
  /** `terminate`, `stop` or `hibernate`. */
  action?: string;
}

export interface SpotWatchOptions {
  /** Base URL of the instance metadata service, e.g. `http://169.254.169.254`. */
  metadataUrl: string;
  /** Default `SPOT_POLL_MS`. */
  intervalMs?: number;
  onNotice(notice: SpotNotice): void;
  /** Reports a watch that could not start (the agent logs it; the run goes on). */
  onProblem?(message: string): void;
}

/**
 * Watches the EC2 instance metadata service (IMDSv2 only, as the instance requires: PUT a session
 * token, then GETs with it) for a spot interruption notice, and calls `onNotice` once when one
 * appears. On an instance that is not spot (`instance-life-cycle` is not `spot`) it does nothing:
 * on-demand instances get no notice. See
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
 */
export function watchSpotInterruption(options: SpotWatchOptions): { stop(): void } {
  const base = options.metadataUrl.replace(/\/+$/, "");
  let token: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const get = async (path: string): Promise<{ status: number; text: string }> => {
    for (let tries = 0; ; tries++) {
      token ??= await fetchToken(base);
      const res = await fetch(`${base}${path}`, { headers: { "x-aws-ec2-metadata-token": token }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const text = await res.text();
      // An expired session token answers 401: take a new one, once.
      if (res.status === 401 && tries === 0) {
        token = undefined;
        continue;
      }
      return { status: res.status, text };
    }
  };

  const poll = async () => {
    try {
      const { status, text } = await get("/latest/meta-data/spot/instance-action");
      // 404 until EC2 decides to take the instance back.
      if (status === 200 && !stopped) {
        stopped = true;
        options.onNotice(parseNotice(text));
        return;
      }
    } catch {
      // The metadata service did not answer this time: look again at the next poll.
    }
    schedule();
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void poll(), options.intervalMs ?? SPOT_POLL_MS);
    timer.unref();
  };

  void (async () => {
    try {
      const lifeCycle = await get("/latest/meta-data/instance-life-cycle");
      if (lifeCycle.status !== 200 || lifeCycle.text.trim() !== "spot") return;
    } catch (err) {
      options.onProblem?.(`cannot read the instance metadata service (${(err as Error).message}); spot interruptions will not be noticed`);
      return;
    }
    await poll();
  })();

  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

async function fetchToken(base: string): Promise<string> {
  const res = await fetch(`${base}/latest/api/token`, {
    method: "PUT",
    headers: { "x-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`the metadata token request answered ${res.status}`);
  return text.trim();
}

/** `{"action": "terminate", "time": "2017-09-18T08:22:00Z"}`; a body that is not that still counts as a notice. */
function parseNotice(text: string): SpotNotice {
  const notice: SpotNotice = { seenAt: Date.now() };
  try {
    const body = JSON.parse(text) as { action?: unknown; time?: unknown };
    if (typeof body.time === "string") notice.actionAt = body.time;
    if (typeof body.action === "string") notice.action = body.action;
  } catch {
    /* an unexpected body: the notice stands, without a time */
  }
  return notice;
}
