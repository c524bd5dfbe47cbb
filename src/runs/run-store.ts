import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Redis } from "ioredis";
import { NotFoundError } from "../errors.js";
import { DAILY_SPEND_TTL_SECONDS, dailySpendKeyParts, spendBetween, startOfUtcDay } from "./daily-spend.js";
import type { Workflow } from "../workflow/types.js";
import { ACTIVE_STATUSES, RUN_STATUSES, type ArtifactFile, type Machine, type Run, type RunStatus } from "./types.js";

/** Fields that change during a run, kept as separate hash fields so writers never clobber each other. */
const MUTABLE = [
  "status",
  "reason",
  "startedAt",
  "finishedAt",
  "machine",
  "heartbeatAt",
  "exitCode",
  "logBytes",
  "artifacts",
  "stopRequested",
  "checkRunId",
  "concluded",
  "tags",
  "provisioningAt",
  "agentContactAt",
  "provisioningNotes",
  "gpusSeen",
  "approval",
  "attempts",
  "interruption",
  "checkpoint",
] as const;
type MutableField = (typeof MUTABLE)[number];
/** Fields a patch may remove by giving `null` (a resumed run leaves its old machine and notice behind). */
type ClearableField = "machine" | "interruption";
export type RunPatch = Partial<Pick<Run, Exclude<MutableField, ClearableField>>> & { [K in ClearableField]?: Run[K] | null };

/** Run hash fields of the agent API: raw log bytes received from the current agent, and the masker's held-back bytes. */
export const RAW_LOG_BYTES_FIELD = "rawLogBytes";
export const MASK_HELD_FIELD = "logMaskHeld";

/**
 * Compare-and-set of a run's status: moves to ARGV[1] only from one of the statuses in ARGV[2]
 * (comma-separated; empty = any non-terminal), appends `status:ARGV[3];` (the time, ms) to the
 * run's `history`, then writes the field pairs that follow ARGV[4] (the run id). Atomic, so two
 * processes concluding the same run cannot both win, and the history holds exactly the transitions
 * that happened. An end also puts the run into the concluding runs (KEYS[2]) in the same step: a
 * supervisor concludes a run the moment it reads its terminal status, and a later, separate add
 * would put a concluded run back there for good.
 */
const TRANSITION_LUA = `
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
local allowed = ARGV[2]
local ok = false
if allowed == '' then
  ok = (cur ~= '"done"' and cur ~= '"failed"' and cur ~= '"stopped"' and cur ~= '"timed_out"')
else
  for s in string.gmatch(allowed, '[^,]+') do
    if cur == '"' .. s .. '"' then ok = true end
  end
end
if not ok then return 0 end
redis.call('HSET', KEYS[1], 'status', '"' .. ARGV[1] .. '"')
redis.call('HSET', KEYS[1], 'history', (redis.call('HGET', KEYS[1], 'history') or '') .. ARGV[1] .. ':' .. ARGV[3] .. ';')
if ARGV[1] == 'done' or ARGV[1] == 'failed' or ARGV[1] == 'stopped' or ARGV[1] == 'timed_out' then
  redis.call('SADD', KEYS[2], ARGV[4])
end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == 'null' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
`;

/**
 * Takes run ARGV[1] out of the active runs (KEYS[1]) and, if it was there, adds its spend of the day
 * (ARGV[2] dollars, ARGV[3] GPU-hours; empty: none) to KEYS[2], which expires after ARGV[4] s. One
 * step, so the budget gate counts an ended run live or in the day's total, never both and never
 * neither; and only the caller that removed it adds its spend, so settling twice counts it once.
 */
const SETTLE_ENDED_LUA = `
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and ARGV[2] ~= '' then
  redis.call('HINCRBYFLOAT', KEYS[2], 'dollars', ARGV[2])
  redis.call('HINCRBYFLOAT', KEYS[2], 'gpuHours', ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return 1
`;

/** Sets the run's `approval` to ARGV[1] unless it holds an approval already (see `holdForApproval`). */
const HOLD_FOR_APPROVAL_LUA = `
local cur = redis.call('HGET', KEYS[1], 'approval')
if cur and string.find(cur, '"state":"approved"', 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'approval', ARGV[1])
return 1
`;

/** Where a page of runs ended: its last run's creation time and id (see `RunStore.list`). */
export interface RunCursor {
  at: number;
  id?: string;
}

export interface NewRun {
  repo: string;
  installationId?: number;
  workflow: Workflow;
  commit: string;
  ref?: string;
  trigger: Run["trigger"];
  groupId: string;
  needs: string[];
  inputs: Run["inputs"];
  code: Run["code"];
  variables: Record<string, string>;
  /** Explicit id (planned groups pick ids before creating runs). */
  id?: string;
  /** Explicit creation time (a run restored from the journal keeps its own). Default: now. */
  createdAt?: number;
}

/**
 * A copy of each unconcluded run kept outside Redis (see RunJournal): written when the run is
 * created, removed when its conclusion is out, so a Redis that lost its data can be told which
 * runs it lost.
 */
export interface RunJournalSink {
  record(entry: Required<Pick<NewRun, "id" | "createdAt">> & Omit<NewRun, "id" | "createdAt">): Promise<void>;
  forget(runId: string): Promise<void>;
}

export function newRunId(): string {
  // 10 lowercase base32-ish characters: short enough to type, 50 bits of randomness.
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  const bytes = randomBytes(10);
  let id = "";
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Runs, their states and indexes in Redis: the source of truth that every service process shares.
 * Keys: `{prefix}:run:{id}` (hash), `{prefix}:runs:repo:{repo}` and `{prefix}:runs:all` (sorted by
 * creation), `{prefix}:runs:active` (set), `{prefix}:latest:{repo}:{workflow}` (last successful run),
 * `{prefix}:spend:{repo}:{YYYY-MM-DD}` (hash: what the repository's ended runs cost that UTC day).
 */
export class RunStore {
  readonly redis: Redis;
  readonly prefix: string;
  private readonly now: () => number;

  private readonly journal: RunJournalSink | undefined;

  constructor(deps: { redis: Redis; prefix: string; now?: () => number; journal?: RunJournalSink }) {
    this.journal = deps.journal;
    this.redis = deps.redis;
    this.prefix = deps.prefix;
    this.now = deps.now ?? Date.now;
    this.redis.defineCommand("dstackTransition", { numberOfKeys: 2, lua: TRANSITION_LUA });
  }

  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  /** Creates the run in `submitted` and returns it with its agent token (shown once, stored hashed). */
  async create(input: NewRun): Promise<{ run: Run; token: string }> {
    const id = input.id ?? newRunId();
    const token = randomBytes(32).toString("base64url");
    const createdAt = input.createdAt ?? this.now();
    const run: Run = {
      id,
      repo: input.repo,
      installationId: input.installationId,
      workflow: input.workflow,
      commit: input.commit,
      ref: input.ref,
      trigger: input.trigger,
      status: "submitted",
      groupId: input.groupId,
      needs: input.needs,
      inputs: input.inputs,
      createdAt,
      transitions: [{ status: "submitted", at: createdAt }],
      logBytes: 0,
      artifacts: [],
      code: input.code,
      tags: [],
      concluded: false,
      variables: input.variables,
    };
    const doc = {
      id,
      repo: run.repo,
      installationId: run.installationId,
      workflow: run.workflow,
      commit: run.commit,
      ref: run.ref,
      trigger: run.trigger,
      groupId: run.groupId,
      needs: run.needs,
      inputs: run.inputs,
      createdAt,
      code: run.code,
      variables: run.variables,
    };
    const fields: Record<string, string> = { doc: JSON.stringify(doc), tokenHash: hashToken(token), history: `submitted:${createdAt};` };
    for (const f of MUTABLE) {
      const v = run[f];
      if (v !== undefined) fields[f] = JSON.stringify(v);
    }
    await this.redis
      .multi()
      .hset(this.key("run", id), fields)
      .zadd(this.key("runs", "repo", run.repo), createdAt, id)
      .zadd(this.key("runs", "all"), createdAt, id)
      .sadd(this.key("runs", "active"), id)
      .sadd(this.key("runs", "group", run.groupId), id)
      .zadd(this.key("runs", "commit", run.repo, run.commit), createdAt, id)
      .exec();
    await this.journal?.record(doc);
    return { run, token };
  }

  async find(id: string): Promise<Run | undefined> {
    if (!/^[a-z0-9-]{1,64}$/.test(id)) return undefined;
    const h = await this.redis.hgetall(this.key("run", id));
    if (h.doc === undefined) return undefined;
    return decodeRun(h);
  }

  async get(id: string): Promise<Run> {
    const run = await this.find(id);
    if (run === undefined) throw new NotFoundError(`run ${JSON.stringify(id)} does not exist`);
    return run;
  }

  async verifyToken(id: string, token: string): Promise<boolean> {
    const stored = await this.redis.hget(this.key("run", id), "tokenHash");
    if (stored === null) return false;
    const a = Buffer.from(stored, "hex");
    const b = Buffer.from(hashToken(token), "hex");
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Replaces the agent token (a relaunch hands the new machine a fresh one). The new agent numbers
   * its log bytes from 0, and the earlier one is refused from now on, so the raw log count restarts.
   */
  async rotateToken(id: string): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await this.redis.multi().hset(this.key("run", id), "tokenHash", hashToken(token)).hdel(this.key("run", id), RAW_LOG_BYTES_FIELD, MASK_HELD_FIELD).exec();
    return token;
  }

  /**
   * Writes `patch` in one transaction. `concluded: true` also leaves the `concluding` set in that
   * transaction (a crash between the two left a concluded run there, handed to a supervisor on every
   * reaper tick), and then removes the run's journal entry. That removal cannot join the
   * transaction: the journal lives in the artifact store precisely because it must outlive Redis's
   * data (RunJournal). It follows the Redis write, so an entry is never gone while Redis still
   * waits for the conclusion; when it fails or a crash comes first, the stale entry is harmless:
   * recovery skips runs Redis still knows, and forgets those whose check run is completed
   * (recoverLostRuns).
   */
  async update(id: string, patch: RunPatch): Promise<void> {
    const fields = encodePatch(patch);
    // `null` removes the field (see ClearableField), like TRANSITION_LUA does.
    const cleared = Object.keys(fields).filter((k) => fields[k] === "null");
    for (const k of cleared) delete fields[k];
    if (cleared.length === 0 && Object.keys(fields).length === 0) return;
    const tx = this.redis.multi();
    if (cleared.length > 0) tx.hdel(this.key("run", id), ...cleared);
    if (Object.keys(fields).length > 0) tx.hset(this.key("run", id), fields);
    if (patch.concluded === true) tx.srem(this.key("runs", "concluding"), id);
    await tx.exec();
    if (patch.concluded === true) await this.journal?.forget(id);
  }

  /**
   * Moves a run to `to` if its status is one of `from` (default: any non-terminal), atomically,
   * with `patch`. Returns false when another writer got there first or the run is in another state.
   */
  async transition(id: string, to: RunStatus, options: { from?: readonly RunStatus[]; patch?: RunPatch } = {}): Promise<boolean> {
    const patch: RunPatch = { ...options.patch };
    if (["done", "failed", "stopped", "timed_out"].includes(to) && patch.finishedAt === undefined) {
      patch.finishedAt = this.now();
    }
    const args: string[] = [to, (options.from ?? []).join(","), String(this.now()), id];
    for (const [k, v] of Object.entries(encodePatch(patch))) args.push(k, v);
    const redis = this.redis as Redis & { dstackTransition(key: string, concluding: string, ...args: string[]): Promise<number> };
    const res = await redis.dstackTransition(this.key("run", id), this.key("runs", "concluding"), ...args);
    if (res === -1) throw new NotFoundError(`run ${JSON.stringify(id)} does not exist`);
    // Ended (and among the concluding runs already): out of the active ones, with its spend.
    if (res === 1 && ["done", "failed", "stopped", "timed_out"].includes(to)) await this.settleEnded(id);
    return res === 1;
  }

  /**
   * Takes an ended run out of the active runs, adding what its machines cost today to its
   * repository's spend of the day in the same step (SETTLE_ENDED_LUA): the budget gate counts a run
   * live while it is active and from the day's total after, and reads no ended run again.
   * Idempotent: a second call (the supervisor settling after a crash) changes nothing.
   */
  private async settleEnded(id: string): Promise<void> {
    const run = await this.find(id);
    if (run === undefined) return;
    const now = this.now();
    const spent = spendBetween([run], startOfUtcDay(now), now);
    const counted = spent.dollars !== 0 || spent.gpuHours !== 0;
    await this.redis.eval(
      SETTLE_ENDED_LUA,
      2,
      this.key("runs", "active"),
      this.key(...dailySpendKeyParts(run.repo, now)),
      id,
      counted ? String(spent.dollars) : "",
      String(spent.gpuHours),
      String(DAILY_SPEND_TTL_SECONDS),
    );
  }

  /**
   * A concluded run still among the runs that need a supervisor (its ending process died between
   * the status write and settling it) leaves them: settled, then out of the concluding runs.
   */
  async settleConcluded(id: string): Promise<void> {
    await this.settleEnded(id);
    await this.redis.srem(this.key("runs", "concluding"), id);
  }

  /**
   * Holds a run for approval (the budget gate) with `message`, unless a writer approved it meanwhile:
   * atomic, so a supervisor that read the run before the approval never takes the approval back.
   * Returns false when the run is approved.
   */
  async holdForApproval(id: string, message: string): Promise<boolean> {
    const waiting = JSON.stringify({ state: "waiting", message });
    const res = await this.redis.eval(HOLD_FOR_APPROVAL_LUA, 1, this.key("run", id), waiting);
    return res === 1;
  }

  /**
   * A machine is being provisioned for the run: its boot time starts at `at` and ends at its agent's
   * first request (`agentContactAt`, which a relaunch forgets so the new machine's boot is measured).
   */
  async startBoot(id: string, at: number): Promise<void> {
    await this.redis.multi().hset(this.key("run", id), "provisioningAt", String(at)).hdel(this.key("run", id), "agentContactAt").exec();
  }

  async heartbeat(id: string): Promise<void> {
    await this.redis.hset(this.key("run", id), "heartbeatAt", String(this.now()));
  }

  async addLogBytes(id: string, n: number): Promise<number> {
    return this.redis.hincrby(this.key("run", id), "logBytes", n);
  }

  async setArtifacts(id: string, artifacts: ArtifactFile[]): Promise<void> {
    await this.update(id, { artifacts });
  }

  async setMachine(id: string, machine: Machine): Promise<void> {
    await this.update(id, { machine });
  }

  async groupRuns(groupId: string): Promise<Run[]> {
    const ids = await this.redis.smembers(this.key("runs", "group", groupId));
    const runs = await Promise.all(ids.map((id) => this.find(id)));
    return runs.filter((r): r is Run => r !== undefined).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  async activeRunIds(): Promise<string[]> {
    return this.redis.smembers(this.key("runs", "active"));
  }

  /** Runs that need a supervisor: active ones, and ended ones whose conclusion is not published yet. */
  async unconcludedRunIds(): Promise<string[]> {
    return this.redis.sunion(this.key("runs", "active"), this.key("runs", "concluding"));
  }

  /** Runs of `repo` at `commit`, oldest first. */
  async runsAtCommit(repo: string, commit: string): Promise<Run[]> {
    const ids = await this.redis.zrange(this.key("runs", "commit", repo, commit), "0", "-1");
    const runs = await Promise.all(ids.map((id) => this.find(id)));
    return runs.filter((r): r is Run => r !== undefined);
  }

  /** Newest first. */
  /**
   * Runs newest first (by creation time, then id), `limit` of them, after the cursor `before` when
   * given: the run a previous page ended with (`{ at: its createdAt, id }`), or a time alone (runs
   * created before it). The id matters: runs of one group are created within the same millisecond,
   * and a cursor of the time alone skipped those of them that did not fit on the page.
   */
  async list(options: { repo?: string; limit?: number; before?: RunCursor | number } = {}): Promise<Run[]> {
    const key = options.repo === undefined ? this.key("runs", "all") : this.key("runs", "repo", options.repo);
    const limit = options.limit ?? 50;
    const before = typeof options.before === "number" ? { at: options.before } : options.before;
    let ids: string[];
    if (before === undefined) ids = await this.redis.zrevrangebyscore(key, "+inf", "-inf", "LIMIT", 0, limit);
    else if (before.id === undefined) ids = await this.redis.zrevrangebyscore(key, `(${before.at}`, "-inf", "LIMIT", 0, limit);
    else {
      // Members of one score come in reverse lexical order: those of the cursor's millisecond after it
      // are the ones below its id, then the earlier milliseconds.
      const cursorId = before.id;
      const same = (await this.redis.zrangebyscore(key, before.at, before.at)).filter((id) => id < cursorId).reverse();
      ids = same.slice(0, limit);
      if (ids.length < limit) ids.push(...(await this.redis.zrevrangebyscore(key, `(${before.at}`, "-inf", "LIMIT", 0, limit - ids.length)));
    }
    const runs = await Promise.all(ids.map((id) => this.find(id)));
    return runs.filter((r): r is Run => r !== undefined);
  }

  async markLatestSuccess(run: Run): Promise<void> {
    await this.redis.set(this.key("latest", run.repo, run.workflow.name), run.id);
  }

  /** The run `workflow` tagged `tag` in `repo`; `latest` falls back to the latest successful run. */
  async resolveTag(repo: string, workflow: string | undefined, tag: string): Promise<Run | undefined> {
    const tagged = await this.redis.hgetall(this.key("tag", repo, tag));
    const ids = workflow === undefined ? Object.values(tagged) : [tagged[workflow]].filter((x): x is string => x !== undefined);
    if (ids.length > 0 && ids[0] !== undefined) return this.find(ids[0]);
    if (tag === "latest" && workflow !== undefined) {
      const id = await this.redis.get(this.key("latest", repo, workflow));
      if (id !== null) return this.find(id);
    }
    return undefined;
  }

  /**
   * Records that the Git tag `tag` names `commit` (a moved tag forgets its old commit): runs at that
   * commit that succeed later get the tag too (see `applyGitTags`).
   */
  async setGitTag(repo: string, tag: string, commit: string): Promise<void> {
    const previous = await this.redis.hget(this.key("gittags", repo), tag);
    const multi = this.redis.multi().hset(this.key("gittags", repo), tag, commit).sadd(this.key("gittags", repo, commit), tag);
    if (previous !== null && previous !== commit) multi.srem(this.key("gittags", repo, previous), tag);
    await multi.exec();
  }

  /** The commit the Git tag `tag` names, as last recorded. */
  async gitTagCommit(repo: string, tag: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key("gittags", repo), tag)) ?? undefined;
  }

  /** Forgets the Git tag `tag` and takes the tag away from every run that has it. */
  async deleteTag(repo: string, tag: string): Promise<void> {
    const commit = await this.redis.hget(this.key("gittags", repo), tag);
    const multi = this.redis.multi().hdel(this.key("gittags", repo), tag);
    if (commit !== null) multi.srem(this.key("gittags", repo, commit), tag);
    await multi.exec();
    await this.untag(repo, tag);
  }

  /** Takes `tag` away from every run of `repo` that has it. */
  async untag(repo: string, tag: string): Promise<void> {
    const key = this.key("tag", repo, tag);
    for (const id of Object.values(await this.redis.hgetall(key))) {
      const run = await this.find(id);
      if (run !== undefined) await this.update(run.id, { tags: run.tags.filter((t) => t !== tag) });
    }
    await this.redis.del(key);
  }

  /** Gives a successful run the Git tags that name its commit. Returns the tags given. */
  async applyGitTags(run: Run): Promise<string[]> {
    if (run.status !== "done") return [];
    const tags = await this.redis.smembers(this.key("gittags", run.repo, run.commit));
    for (const tag of tags) {
      // A tag names one run per workflow: the newest success at the commit wins.
      const current = await this.resolveTag(run.repo, run.workflow.name, tag);
      if (current === undefined || current.commit !== run.commit || current.createdAt <= run.createdAt) await this.tag(run, tag);
    }
    return tags;
  }

  /** The tags of `repo` with the run each names per workflow, sorted by tag. */
  async listTags(repo: string): Promise<Array<{ tag: string; runs: Array<{ workflow: string; runId: string }> }>> {
    const base = this.key("tag", repo, "");
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await this.redis.scan(cursor, "MATCH", `${base.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 500);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    const tags = await Promise.all(
      keys.map(async (k) => ({
        tag: k.slice(base.length),
        runs: Object.entries(await this.redis.hgetall(k))
          .map(([workflow, runId]) => ({ workflow, runId }))
          .sort((a, b) => a.workflow.localeCompare(b.workflow)),
      })),
    );
    return tags.filter((t) => t.runs.length > 0).sort((a, b) => a.tag.localeCompare(b.tag));
  }

  /** Gives `tag` to `run` (one run per workflow per tag: moving a tag moves it). */
  async tag(run: Run, tag: string): Promise<void> {
    const key = this.key("tag", run.repo, tag);
    const previous = await this.redis.hget(key, run.workflow.name);
    if (previous !== null && previous !== run.id) {
      const prev = await this.find(previous);
      if (prev !== undefined) await this.update(prev.id, { tags: prev.tags.filter((t) => t !== tag) });
    }
    await this.redis.hset(key, run.workflow.name, run.id);
    const fresh = await this.get(run.id);
    if (!fresh.tags.includes(tag)) await this.update(run.id, { tags: [...fresh.tags, tag] });
  }
}

function encodePatch(patch: RunPatch): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v !== undefined) fields[k] = JSON.stringify(v);
  }
  return fields;
}

/** `submitted:1700000000000;provisioning:...;` -> the transitions in order (runs from before the history have none). */
function decodeHistory(raw: string | undefined): Run["transitions"] {
  const out: NonNullable<Run["transitions"]> = [];
  for (const entry of (raw ?? "").split(";")) {
    const [status = "", at = ""] = entry.split(":");
    if ((RUN_STATUSES as readonly string[]).includes(status) && /^\d+$/.test(at)) out.push({ status: status as RunStatus, at: Number(at) });
  }
  return out;
}

function decodeRun(h: Record<string, string>): Run {
  const doc = JSON.parse(h.doc ?? "{}") as Omit<Run, MutableField>;
  const mutable: Record<string, unknown> = {};
  for (const f of MUTABLE) {
    const raw = h[f];
    if (raw !== undefined) mutable[f] = JSON.parse(raw);
  }
  const status = mutable.status as RunStatus;
  if (!RUN_STATUSES.includes(status)) throw new Error(`run ${doc.id} has an unknown status ${String(status)}`);
  return {
    ...doc,
    ...(mutable as Pick<Run, MutableField>),
    transitions: decodeHistory(h.history),
    logBytes: Number(mutable.logBytes ?? 0),
    artifacts: (mutable.artifacts as ArtifactFile[] | undefined) ?? [],
    tags: (mutable.tags as string[] | undefined) ?? [],
    concluded: mutable.concluded === true,
  };
}

export { ACTIVE_STATUSES };
