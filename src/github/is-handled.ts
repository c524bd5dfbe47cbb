/**
 * The webhook events (and actions) the app handles (`src/app.ts` registers their handlers). The
 * intake acknowledges every other delivery without enqueueing it.
 */
const HANDLED: Readonly<Record<string, readonly string[] | "any">> = {
  issue_comment: ["created"],
  push: "any",
  create: "any",
  delete: "any",
  check_run: ["rerequested", "requested_action"],
  pull_request: ["opened", "reopened", "synchronize"],
};

/** A line that starts a command, as `parseCommands` reads them (any case; outside fences, checked later). */
const COMMAND_LINE = /^[ \t]*\/dstack(?:\s|$)/im;

/**
 * Whether a delivery can lead to any work, judged from the payload alone and cheaply: an event or
 * action the app does not handle, a comment without a `/dstack` line (most PR comments), or one
 * written by a bot (this app's own replies included) cannot. Handlers check again in full.
 */
export function isHandled(event: string, payload: Record<string, unknown>): boolean {
  const handled = HANDLED[event];
  if (handled === undefined) return false;
  if (handled !== "any" && !handled.includes(String(payload.action))) return false;
  if (event === "issue_comment") {
    const comment = payload.comment as { body?: unknown; user?: { type?: unknown } } | undefined;
    if (typeof comment?.body !== "string" || !COMMAND_LINE.test(comment.body)) return false;
    if (comment.user?.type === "Bot") return false;
  }
  if (event === "pull_request") {
    // Only forks' PRs need work (a same-repository PR's branch push was validated already).
    const pr = payload.pull_request as { head?: { repo?: { full_name?: unknown } | null } } | undefined;
    const repository = payload.repository as { full_name?: unknown } | undefined;
    if (pr?.head?.repo?.full_name === repository?.full_name) return false;
  }
  return true;
}
