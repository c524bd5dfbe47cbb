import type { Run } from "./types.js";

/**
 * Moments of a run that fault tests hold a process at, so that `kill -9` lands exactly there
 * instead of by luck: `queued` (a supervisor has the run, before it leaves `submitted`),
 * `launched` (the agent was started, the machine not yet recorded), `concluding` (the conclusion
 * was published, not yet recorded), `job` (an agent asked for its job), `upload` (an artifact
 * upload reached the agent API).
 */
export type TestPoint = "queued" | "launched" | "concluding" | "job" | "upload";

/** Awaited at each test point; production passes none. */
export type TestPointHook = (point: TestPoint, run: Run) => Promise<void>;
