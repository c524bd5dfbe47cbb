import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export interface TestRedis {
  url: string;
  port: number;
  /** A unique key prefix for this test file. */
  prefix: string;
  /** The server's process id (benchmarks read its CPU time). */
  readonly pid: number;
  stop(): Promise<void>;
  /**
   * Kills the server (for fault tests): hard by default; SIGTERM shuts it down cleanly (the
   * append-only file flushed). `start()` brings it back on the same port, with its data when it
   * has an append-only file, empty otherwise.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0));
    });
  });
}

/**
 * Starts a private `redis-server` on a free port for one test file: no persistence, or with
 * `appendonly` an append-only file (fsync every second, as production runs it) in `appendonly.dir`.
 */
export async function startRedis(name: string, options: { appendonly?: { dir: string } } = {}): Promise<TestRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const persistence = options.appendonly === undefined ? ["--appendonly", "no"] : ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", options.appendonly.dir];
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence], {
      stdio: "ignore",
    });
    for (let i = 0; i < 100; i++) {
      const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on("error", () => {
        /* not up yet: retried below */
      });
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return;
      } catch {
        c.disconnect();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill(signal);
    });
  };
  await start();
  return {
    url,
    port,
    prefix: `t-${name}-${process.pid}`,
    get pid() {
      return child?.pid ?? 0;
    },
    start,
    kill,
    stop: () => kill(),
  };
}
