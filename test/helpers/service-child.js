// One service process for the fault and scale-out tests and the `scale` benchmark: the compiled
// service (dist/, `npm run build`) started from the environment like `npm start`, with the test
// seams of `ServiceOverrides` taken from SERVICE_* variables (a plain JS file, so a test can spawn
// it without compiling the test helpers). It prints `ready <port>` on stdout once serving,
// `held <point> <run id>` when SERVICE_HOLD holds a run, logs pino JSON on stderr, and stops on SIGTERM.
//
// SERVICE_PREFIX          Redis key prefix (one per test file)
// SERVICE_LOCK_MS         run jobs' lock duration (production 30 s)
// SERVICE_STALLED_MS      stalled-job check interval (production 15 s)
// SERVICE_HEARTBEAT_SECONDS, SERVICE_HEARTBEAT_LEASE_MS   agents' heartbeat and the lease after which one is lost
// SERVICE_REAPER_MS       reaper (and lost-data check) interval
// SERVICE_HOLD            `point:workflow[:ms|:usr2],...`: a run of `workflow` reaching the test point is held
//                         there `ms`, until the process gets SIGUSR2 (`usr2`: the test says when, which
//                         no timing on a loaded machine can), or until it is killed (see src/runs/test-point.ts)
/* global setTimeout, setInterval */
import { loadConfig } from "../../dist/src/config.js";
import { createLogger } from "../../dist/src/logger.js";
import { startService } from "../../dist/src/service.js";

const env = process.env;

function numberEnv(name) {
  const v = env[name];
  return v === undefined || v === "" ? undefined : Number(v);
}

function holdAt(spec) {
  const released = new Promise((resolve) => process.once("SIGUSR2", resolve));
  const holds = spec.split(",").map((item) => {
    const [point, workflow, ms] = item.split(":");
    return { point, workflow, ms: ms === undefined || ms === "usr2" ? undefined : Number(ms), untilSignal: ms === "usr2" };
  });
  return async (point, run) => {
    const hold = holds.find((h) => h.point === point && h.workflow === run.workflow.name);
    if (hold === undefined) return;
    process.stdout.write(`held ${point} ${run.id}\n`);
    if (hold.untilSignal) return released;
    await new Promise((resolve) => {
      if (hold.ms !== undefined) setTimeout(resolve, hold.ms);
      else setInterval(() => undefined, 60_000);
    });
  };
}

const config = loadConfig(env);
const log = createLogger({ level: config.logLevel, destination: process.stderr });
const leaseMs = numberEnv("SERVICE_HEARTBEAT_LEASE_MS");
const service = await startService(config, log, {
  prefix: env.SERVICE_PREFIX ?? "dstack",
  // GitHub's budgets out of the way of tests that do not measure them (as test/helpers/service.ts does).
  githubRate: { limit: 100_000, hourLimit: 1_000_000 },
  supervise: { publishIntervalMs: 1000, pollMs: 200, ...(leaseMs !== undefined ? { heartbeatLeaseMs: leaseMs } : {}) },
  reaperIntervalMs: numberEnv("SERVICE_REAPER_MS") ?? 1000,
  runLock: { lockDurationMs: numberEnv("SERVICE_LOCK_MS"), stalledIntervalMs: numberEnv("SERVICE_STALLED_MS") },
  ...(numberEnv("SERVICE_HEARTBEAT_SECONDS") !== undefined ? { heartbeatSeconds: numberEnv("SERVICE_HEARTBEAT_SECONDS") } : {}),
  ...(env.SERVICE_HOLD !== undefined && env.SERVICE_HOLD !== "" ? { testPoint: holdAt(env.SERVICE_HOLD) } : {}),
});
process.stdout.write(`ready ${service.port}\n`);
process.once("SIGTERM", () => {
  void service.close().then(() => process.exit(0));
});
