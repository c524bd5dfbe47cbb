import type { Redis } from "ioredis";

/**
 * A writer's `/dstack run` on a fork's pull request approves the head commit the writer saw when
 * writing the comment (DESIGN §5, issue #9). The comment may be processed much later (queue delay,
 * retries, a GitHub outage, a redelivery days later), and the fork's author may have pushed since:
 * that commit was never reviewed. The service therefore remembers, per pull request, the head it
 * last saw change and when it saw it. That time is when the event reached us, so it is never
 * earlier than the push itself: a comment written at or after it was written with that head in
 * place. Every doubt is a refusal (the writer asks again), never a run.
 */

/** Longer than the 3 days GitHub redelivers a comment for, so a redelivered command meets a record. */
const SEEN_SECONDS = 7 * 24 * 3600;

/** Sets the recorded head unless it is already `sha` (keeping the first time it was seen as head). */
const RECORD_LUA = `
if redis.call('HGET', KEYS[1], 'sha') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'sha', ARGV[1], 'atMs', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1`;

export interface ForkHeadDeps {
  redis: Redis;
  prefix: string;
}

/** A pull request of `repo` (`owner/name`). */
export interface PullRef {
  repo: string;
  number: number;
}

function seenKey(prefix: string, pr: PullRef): string {
  return `${prefix}:pr-head:${pr.repo}:${pr.number}`;
}

/**
 * Records that `sha` is the pull request's head, seen at `nowMs`: from `pull_request` opened,
 * reopened and synchronize, and by the comment check when it finds a head it had not seen. A head
 * that changes (to a new commit, or back to an earlier one) starts a new record, so a force push
 * back to an old commit is not approved by comments written before it.
 */
export async function recordForkHead(deps: ForkHeadDeps, pr: PullRef, sha: string, nowMs: number): Promise<void> {
  await deps.redis.eval(RECORD_LUA, 1, seenKey(deps.prefix, pr), sha, String(nowMs), SEEN_SECONDS);
}

/** What the comment check knows of the pull request, from the comment's payload and `GET /pulls`. */
export interface ForkHeadFacts {
  /** The head commit now (`GET /pulls/{number}`). */
  headSha: string;
  /** The pull request's `updated_at`: moved by every push and comment (the command's own included). */
  updatedAt: string;
  /** The command's `comment.created_at` (whole seconds). */
  commentCreatedAt: string;
  nowMs: number;
}

/** Whether the head now is the head the comment was written on; if not, the new head and when it came. */
export type ForkHeadVerdict = { ok: true } | { ok: false; sha: string; pushedAt: string };

/**
 * Whether a writer's comment approves the fork pull request's current head. With a record of the
 * head: only if the record is that head and was made at or before the comment (a push after the
 * comment refuses). Without a record of this head (its `pull_request` event is still queued or
 * was lost, the PR was last pushed before the record's lifetime or before the app was installed):
 * only if nothing changed the pull request after the comment (`updated_at` not later than
 * `created_at`; the comment itself moves `updated_at` to its own second, and every push, force
 * pushes back to an older commit included, moves it past). The head commit's own dates are not
 * used: the fork's author writes them. Either way the head seen now is recorded, so a writer who
 * asks again after a refusal is answered from the record.
 */
export async function checkForkHead(deps: ForkHeadDeps, pr: PullRef, facts: ForkHeadFacts): Promise<ForkHeadVerdict> {
  const createdMs = Date.parse(facts.commentCreatedAt);
  const seen = await deps.redis.hgetall(seenKey(deps.prefix, pr));
  const refused = { ok: false as const, sha: facts.headSha };
  if (seen.sha === facts.headSha && seen.atMs !== undefined) {
    const atMs = Number(seen.atMs);
    return atMs <= createdMs ? { ok: true } : { ...refused, pushedAt: new Date(atMs).toISOString() };
  }
  await recordForkHead(deps, pr, facts.headSha, facts.nowMs);
  // A head the service has not seen arrive: trust only a pull request untouched since the comment.
  if (Date.parse(facts.updatedAt) <= createdMs) return { ok: true };
  return { ...refused, pushedAt: facts.updatedAt };
}
