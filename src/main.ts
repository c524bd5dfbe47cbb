import { config as loadDotenv } from "dotenv";
import { loadConfig } from "./config.js";
import { DstackError } from "./errors.js";
import { createLogger } from "./logger.js";
import { assertNoEviction, ensureRedis } from "./redis.js";
import { startService } from "./service.js";

/** The composition root: config, embedded Redis when needed, the service, and shutdown on signals. */
async function main(): Promise<void> {
  loadDotenv({ quiet: true });
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel });
  const embedded = await ensureRedis({ log }, { url: config.redisUrl, dataDir: config.dataDir });
  await assertNoEviction(config.redisUrl);
  const service = await startService(config, log);
  if (service.keys.apiTokenGenerated) {
    // Printed once, on the start that generated it; it stays in the data dir (keys/api-token).
    process.stdout.write(`\n  dstack API token (for \`dstack config\` and the web page): ${service.keys.apiToken}\n\n`);
  }
  log.info({ url: config.publicUrl, role: config.role, backend: config.backend, github: config.github !== undefined }, "dstack is up");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await service.close();
    await embedded?.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`dstack: ${err instanceof DstackError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
