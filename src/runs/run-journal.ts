import { Readable } from "node:stream";
import type { ArtifactStore } from "../artifacts/index.js";
import type { Logger } from "../logger.js";
import type { NewRun, RunJournalSink } from "./run-store.js";

/** What the journal keeps of a run: what it was created from, with its id and creation time. */
export type JournalEntry = Required<Pick<NewRun, "id" | "createdAt">> & Omit<NewRun, "id" | "createdAt">;

/**
 * The runs not yet concluded, one small JSON object each in the artifact store (S3 or the data
 * dir), which outlives Redis: when Redis comes back without its data (no AOF), these say which
 * runs existed, so each is concluded with a reason instead of vanishing with its check run left
 * `in_progress` (see recoverLostRuns). Every service process on one Redis must share the store;
 * entries live under `journal/{redis key prefix}/`, so deployments sharing a bucket stay apart.
 */
export class RunJournal implements RunJournalSink {
  private readonly folder: string;

  constructor(private readonly deps: { artifacts: ArtifactStore; prefix: string; log: Pick<Logger, "warn"> }) {
    this.folder = `journal/${deps.prefix.replace(/[^A-Za-z0-9._-]/g, "_")}/`;
  }

  /**
   * Best effort, like `forget`: Redis stays the source of truth, and a store that fails here (it
   * retries on its own) must not fail the run's creation or conclusion; the run then simply has
   * no copy, or keeps a stale one that recovery recognises by its completed check run.
   */
  async record(entry: JournalEntry): Promise<void> {
    await this.deps.artifacts
      .put(this.keyOf(entry.id), Readable.from([Buffer.from(JSON.stringify(entry))]), { contentType: "application/json" })
      .catch((err: unknown) => this.deps.log.warn({ runId: entry.id, err: err instanceof Error ? err.message : String(err) }, "writing the run's journal entry failed"));
  }

  async forget(runId: string): Promise<void> {
    await this.deps.artifacts
      .deletePrefix(this.keyOf(runId))
      .catch((err: unknown) => this.deps.log.warn({ runId, err: err instanceof Error ? err.message : String(err) }, "removing the run's journal entry failed"));
  }

  /** Every entry; an unreadable one is logged and skipped. */
  async entries(): Promise<JournalEntry[]> {
    const found: JournalEntry[] = [];
    for (const obj of await this.deps.artifacts.list(this.folder)) {
      try {
        const chunks: Buffer[] = [];
        for await (const c of await this.deps.artifacts.get(obj.key)) chunks.push(c as Buffer);
        const entry = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JournalEntry;
        if (typeof entry.id !== "string" || typeof entry.repo !== "string" || typeof entry.workflow?.name !== "string") throw new Error("not a journal entry");
        found.push(entry);
      } catch (err) {
        // Concluded (deleted) between the listing and the read, or damaged: nothing to recover from it.
        this.deps.log.warn({ key: obj.key, err: err instanceof Error ? err.message : String(err) }, "skipping a run journal entry");
      }
    }
    return found;
  }

  private keyOf(runId: string): string {
    return `${this.folder}${runId}.json`;
  }
}
