/**
 * The narrow slice of Octokit the app uses: `request` with a route string. Both Probot's
 * installation Octokit and @octokit/rest satisfy it; tests pass either against the GitHub double.
 */
export interface GitHubClient {
  request(route: string, params?: Record<string, unknown>): Promise<GitHubResponse>;
  /**
   * Sends only if it need not wait for the installation's rate limits, else resolves `undefined`:
   * for updates a later one supersedes (log tails). Only the rate-limited client has it.
   */
  requestIfFree?(route: string, params?: Record<string, unknown>): Promise<GitHubResponse | undefined>;
}

export interface GitHubResponse {
  status: number;
  data: unknown;
  headers?: Record<string, unknown>;
}

/** Returns a client authenticated as the app's installation `installationId`. */
export type GitHubClientFactory = (installationId: number) => Promise<GitHubClient>;

export function splitRepo(fullName: string): { owner: string; repo: string } {
  const [owner = "", repo = ""] = fullName.split("/");
  return { owner, repo };
}

/** The HTTP status of an Octokit RequestError, if that is what `err` is. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "status" in err && typeof (err as { status: unknown }).status === "number") {
    return (err as { status: number }).status;
  }
  return undefined;
}
