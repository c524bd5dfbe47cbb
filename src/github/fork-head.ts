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

/**
 * Longer than the 3 days GitHub redelivers a comment for, so a redelivered command meets a record,
 * and long enough that a quiet pull request rarely loses its record: a head without one is refused
 * once (`checkForkHead`). Each record is one small hash per pull request.
 */
const SEEN_SECONDS = 30 * 24 * 3600;

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
interface ForkHeadFacts {
  /** The head commit now (`GET /pulls/{number}`). */
  headSha: string;
  /** The pull request's `updated_at`: moved by every push and comment (the command's own included). */
  updatedAt: string;
  /** The command's `comment.created_at` (whole seconds). */
  commentCreatedAt: string;
  nowMs: number;
}

/** Whether the head now is the head the comment was written on; if not, the new head and when it came. */
type ForkHeadVerdict = { ok: true } | ({ ok: false } & HeadChange);

/**
 * Why a comment does not approve the head: `unseen`, the head had not reached the service (no record
 * of it); `pushed`, it became the head in or after the comment's second (at `at`); `updated`, the
 * pull request was touched after the comment (`updated_at` = `at`).
 */
export interface HeadChange {
  sha: string;
  why: "unseen" | "pushed" | "updated";
  at: string;
}

/**
 * Whether a writer's comment approves the fork pull request's current head. The comment names no
 * commit, so it approves one only when which one is certain: the recorded head is the head now,
 * the record was made at or before the comment's second began, and nothing touched the pull
 * request after that second (`updated_at` not later than `created_at`; the comment itself moves
 * `updated_at` to its own second). Refused, and the writer asks again:
 * - a push in the comment's own second: GitHub's times are whole seconds, so it cannot be ordered
 *   against the comment; its record (made when its event reached us, never before the push) is
 *   later than the second's start, and without a record the head is unknown;
 * - a head without a record (its `pull_request` event still queued or lost, the PR pushed before
 *   the record's lifetime or before the app was installed): the old `updated_at` fallback let a
 *   push in the comment's second through;
 * - any change after the comment, a force push away and back to the recorded head included: the
 *   writer may have seen, and approved, an intermediate head whose event is still on its way, and
 *   an approval never carries over to another commit. Approvals bound to one commit stay valid
 *   when the head returns to it (the runs at that commit and their "Re-run", which runs the
 *   check run's own commit): a commit id names its content.
 * The head commit's own dates are not used: the fork's author writes them. The head seen now is
 * recorded, so a writer who asks again after a refusal is answered from the record.
 */
async function checkForkHead(deps: ForkHeadDeps, pr: PullRef, facts: ForkHeadFacts): Promise<ForkHeadVerdict> {
  const createdMs = Date.parse(facts.commentCreatedAt);
  const seen = await deps.redis.hgetall(seenKey(deps.prefix, pr));
  const refused = { ok: false as const, sha: facts.headSha };
  if (seen.sha !== facts.headSha || seen.atMs === undefined) {
    await recordForkHead(deps, pr, facts.headSha, facts.nowMs);
    return { ...refused, why: "unseen", at: new Date(facts.nowMs).toISOString() };
  }
  const atMs = Number(seen.atMs);
  if (atMs > createdMs) return { ...refused, why: "pushed", at: new Date(atMs).toISOString() };
  return Date.parse(facts.updatedAt) <= createdMs ? { ok: true } : { ...refused, why: "updated", at: facts.updatedAt };
}

/** The fields of `GET /repos/{owner}/{repo}/pulls/{pull_number}` the comment check reads. */
export interface PullHead {
  updated_at: string;
  head: { sha: string; repo: { full_name: string } | null };
}

/**
 * Whether a pull request's head lives outside `baseRepo` (`owner/name`): a fork's head, or one whose
 * fork was deleted (`head.repo` is then null), which is treated as a fork too.
 */
export function isForkHead(baseRepo: string, headRepo: { full_name: string } | null | undefined): boolean {
  return headRepo?.full_name !== baseRepo;
}

/** What a command comment may run on a pull request: `changed` when a fork's head moved after the comment. */
export interface PullHeadApproval {
  fork: boolean;
  changed?: HeadChange;
}

/**
 * Whether a writer's command comment, written at `comment.createdAt`, approves the pull request's head
 * now (`pull`, from `GET /pulls`). A same-repository head always is (its pushers are writers
 * themselves); a fork's only if it is the head the comment was written on (`checkForkHead`).
 */
export async function checkPullHead(
  deps: ForkHeadDeps,
  pr: PullRef,
  pull: PullHead,
  comment: { createdAt: string; nowMs: number },
): Promise<PullHeadApproval> {
  if (!isForkHead(pr.repo, pull.head.repo)) return { fork: false };
  const verdict = await checkForkHead(deps, pr, {
    headSha: pull.head.sha,
    updatedAt: pull.updated_at,
    commentCreatedAt: comment.createdAt,
    nowMs: comment.nowMs,
  });
  return verdict.ok ? { fork: true } : { fork: true, changed: { sha: verdict.sha, why: verdict.why, at: verdict.at } };
}
