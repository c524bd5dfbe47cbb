import type { Run } from "./types.js";

/**
 * Where a run's progress is shown outside the service: GitHub check runs and PR comments for runs
 * that came from GitHub; nothing for API runs without GitHub. Every method is idempotent so a
 * supervisor that adopts a run after a crash may call it again.
 */
export interface RunPublisher {
  /** The run started or its log grew: show status and the log tail. */
  progress(run: Run, logTail: { offset: number; data: Buffer }): Promise<void>;
  /**
   * The run ended: conclusion, summary, and for comment-started runs one PR comment.
   * `mayBePublished`: an earlier supervisor may have published it before it died; look first.
   */
  conclude(run: Run, logTail: { offset: number; data: Buffer }, options?: { mayBePublished?: boolean }): Promise<void>;
}

export const silentPublisher: RunPublisher = {
  async progress() {},
  async conclude() {},
};
