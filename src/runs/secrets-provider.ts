import type { Run } from "./types.js";

/** Secret values a run receives as env vars (none for fork PRs). */
export interface SecretsProvider {
  forRun(run: Run): Promise<Record<string, string>>;
}
