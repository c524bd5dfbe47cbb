import type { SecretStore } from "./secret-store.js";
import type { Run } from "./types.js";

/** Secret values a run receives as env vars (none for fork PRs). */
export interface SecretsProvider {
  forRun(run: Run): Promise<Record<string, string>>;
}

/**
 * Every run of a repository gets that repository's secrets, except a fork PR's runs, which get
 * none whoever started them (DESIGN.md §5): the fork's code is not the repository's, and a
 * writer's `/dstack run` on it must not hand it the repository's credentials.
 */
export function storeSecretsProvider(store: Pick<SecretStore, "values">): SecretsProvider {
  return {
    forRun: async (run) => (run.trigger.fork === true ? {} : store.values(run.repo)),
  };
}
