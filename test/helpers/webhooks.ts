/**
 * Real webhook payloads for tests: each maker starts from a payload GitHub actually sent (collected in
 * `@octokit/webhooks-examples`) and overwrites only the fields the app reads, so everything else keeps
 * GitHub's shape. `signAndSend` delivers one the way GitHub does (headers and HMAC signature).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";
import type { Context } from "probot";
import { userIdOf } from "./user-ids.js";

export type IssueCommentCreatedPayload = Context<"issue_comment.created">["payload"];
export type PushPayload = Context<"push">["payload"];
export type CreatePayload = Context<"create">["payload"];
export type CheckRunRerequestedPayload = Context<"check_run.rerequested">["payload"];
export type CheckRunRequestedActionPayload = Context<"check_run.requested_action">["payload"];

type JsonObject = Record<string, unknown>;

interface WebhookDefinition {
  readonly name: string;
  readonly examples: readonly JsonObject[];
}

// Resolved through Node's module resolution so this helper also works compiled (bench/ runs it from dist/).
const EXAMPLES_FILE = createRequire(import.meta.url).resolve("@octokit/webhooks-examples");
let definitions: ReadonlyMap<string, WebhookDefinition> | undefined;

function examplesOf(event: string): readonly JsonObject[] {
  if (definitions === undefined) {
    // A trusted data file (4 MB, read once per process): an array of { name, examples }.
    const list = JSON.parse(readFileSync(EXAMPLES_FILE, "utf8")) as WebhookDefinition[];
    definitions = new Map(list.map((definition) => [definition.name, definition]));
  }
  const definition = definitions.get(event);
  if (definition === undefined) {
    throw new Error(`no webhook examples for event ${JSON.stringify(event)}; known: ${[...definitions.keys()].join(", ")}`);
  }
  return definition.examples;
}

/**
 * A deep copy of a real payload for `event` (and `action`, if given), the first that `pick` accepts.
 * Examples with an `installation` are preferred, since an app only receives those.
 */
export function loadWebhookExample(event: string, action?: string, pick?: (payload: JsonObject) => boolean): JsonObject {
  const candidates = examplesOf(event).filter(
    (payload) => (action === undefined || payload["action"] === action) && (pick === undefined || pick(payload)),
  );
  const chosen = candidates.find((payload) => payload["installation"] !== undefined) ?? candidates[0];
  if (chosen === undefined) {
    throw new Error(`no ${event}${action === undefined ? "" : `.${action}`} example matches`);
  }
  return structuredClone(chosen);
}

/** Where the payload's URLs point. Defaults are GitHub.com's; pass the double's for GHES-shaped URLs. */
export interface PayloadUrls {
  /** Default: "https://api.github.com". */
  readonly apiUrl?: string;
  /** Default: "https://github.com". */
  readonly webUrl?: string;
}

export interface RepositoryFields extends PayloadUrls {
  readonly owner: string;
  readonly repo: string;
  /** Default: 1. */
  readonly installationId?: number;
  /** Default: kept from the example. Set it to the double's repository id when the app compares ids. */
  readonly repositoryId?: number;
  /** Default: "main". */
  readonly defaultBranch?: string;
  /** Default: false. */
  readonly private?: boolean;
  /** Default: "Organization" (as the GitHub double's `addRepo`). */
  readonly ownerType?: "User" | "Organization";
}

export interface IssueCommentPayloadOptions extends RepositoryFields {
  readonly issueNumber: number;
  /** Whether the issue is a pull request (GitHub then adds `issue.pull_request`). */
  readonly isPullRequest: boolean;
  readonly body: string;
  /** Login of the commenter, also the sender. */
  readonly user: string;
  /** The commenter's numeric id. Default: the one the GitHub double gives the login (`userIdOf`); after `renameUser`, `double.userId(login)`. */
  readonly userId?: number;
  readonly commentId: number;
  /** Default: "User". Comments by apps (including this one) come from "Bot" users. */
  readonly userType?: "User" | "Bot" | "Organization";
  /** Default: "OWNER" if the user owns the repository, else "COLLABORATOR". */
  readonly authorAssociation?: string;
  /** When the comment was written (ISO 8601, whole seconds as GitHub sends). Default: now. */
  readonly createdAt?: string;
}

export function makeIssueCommentPayload(options: IssueCommentPayloadOptions): IssueCommentCreatedPayload {
  const raw = loadWebhookExample("issue_comment", "created");
  const payload = withRepository(raw, options) as unknown as IssueCommentCreatedPayload;
  const { api, web, fullName } = urls(options);
  const kind = options.isPullRequest ? "pull" : "issues";
  const issue = payload.issue;
  issue.number = options.issueNumber;
  issue.url = `${api}/repos/${fullName}/issues/${options.issueNumber}`;
  issue.repository_url = `${api}/repos/${fullName}`;
  issue.comments_url = `${issue.url}/comments`;
  issue.events_url = `${issue.url}/events`;
  issue.labels_url = `${issue.url}/labels{/name}`;
  issue.html_url = `${web}/${fullName}/${kind}/${options.issueNumber}`;
  if (options.isPullRequest) {
    issue.pull_request = {
      url: `${api}/repos/${fullName}/pulls/${options.issueNumber}`,
      html_url: issue.html_url,
      diff_url: `${issue.html_url}.diff`,
      patch_url: `${issue.html_url}.patch`,
      merged_at: null,
    };
  } else {
    delete issue.pull_request;
  }
  const user = userFields(options.user, options.userType ?? "User", api, web, options.userId);
  const comment = payload.comment;
  comment.id = options.commentId;
  comment.node_id = Buffer.from(`012:IssueComment${options.commentId}`).toString("base64");
  comment.body = options.body;
  comment.url = `${api}/repos/${fullName}/issues/comments/${options.commentId}`;
  comment.html_url = `${issue.html_url}#issuecomment-${options.commentId}`;
  comment.issue_url = issue.url;
  comment.created_at = comment.updated_at = options.createdAt ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  Object.assign(comment.user ?? {}, user);
  comment.author_association = (options.authorAssociation ??
    (options.user.toLowerCase() === options.owner.toLowerCase() ? "OWNER" : "COLLABORATOR")) as typeof comment.author_association;
  Object.assign(payload.sender, user);
  return payload;
}

export type PullRequestPayload = Context<"pull_request.synchronize">["payload"];

export interface PullRequestPayloadOptions extends RepositoryFields {
  readonly action: "opened" | "reopened" | "synchronize";
  readonly number: number;
  readonly headSha: string;
  /** `owner/name` of the head repository; a fork's differs from the base. Default: the base repository. */
  readonly headRepoFullName?: string;
}

/** A `pull_request` event: the PR's head commit and head repository as the app reads them. */
export function makePullRequestPayload(options: PullRequestPayloadOptions): PullRequestPayload {
  const payload = withRepository(loadWebhookExample("pull_request", options.action), options) as unknown as PullRequestPayload;
  const { fullName } = urls(options);
  const headRepo = options.headRepoFullName ?? fullName;
  payload.pull_request.number = options.number;
  payload.pull_request.head.sha = options.headSha;
  Object.assign(payload.pull_request.head.repo ?? {}, { full_name: headRepo, name: headRepo.split("/")[1] });
  return payload;
}

export interface PushPayloadOptions extends RepositoryFields {
  /** Full ref, e.g. "refs/heads/main" or "refs/tags/v1". */
  readonly ref: string;
  /** Previous head; "0000…" (40 zeros) for a new ref. */
  readonly before: string;
  /** New head; "0000…" for a deleted ref. */
  readonly after: string;
  /** Commits pushed, oldest first. Default: one commit, `after`, with nothing listed as changed. */
  readonly commits?: ReadonlyArray<{
    readonly id: string;
    readonly message?: string;
    readonly added?: readonly string[];
    readonly removed?: readonly string[];
    readonly modified?: readonly string[];
  }>;
  /** Login of the pusher, also the sender. Default: the owner. */
  readonly pusher?: string;
  /** Default: false. */
  readonly forced?: boolean;
}

const ZERO_SHA = "0000000000000000000000000000000000000000";

export function makePushPayload(options: PushPayloadOptions): PushPayload {
  const raw = loadWebhookExample("push", undefined, (p) => typeof p["ref"] === "string" && p["ref"].startsWith("refs/heads/"));
  const payload = withRepository(raw, options) as unknown as PushPayload;
  const { api, web, fullName } = urls(options);
  const pusher = options.pusher ?? options.owner;
  const template = payload.head_commit;
  payload.ref = options.ref;
  payload.before = options.before;
  payload.after = options.after;
  payload.created = options.before === ZERO_SHA;
  payload.deleted = options.after === ZERO_SHA;
  payload.forced = options.forced ?? false;
  payload.base_ref = null;
  payload.compare = `${web}/${fullName}/compare/${options.before.slice(0, 12)}...${options.after.slice(0, 12)}`;
  payload.pusher = { name: pusher, email: `${pusher}@users.noreply.example.com` };
  Object.assign(payload.sender ?? {}, userFields(pusher, "User", api, web));
  const specs = options.commits ?? (payload.deleted ? [] : [{ id: options.after }]);
  const commits = specs.map((spec) => ({
    ...(template ?? {}),
    id: spec.id,
    tree_id: spec.id, // not the real tree; apps read the commit id
    distinct: true,
    message: spec.message ?? "Update files",
    timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    url: `${web}/${fullName}/commit/${spec.id}`,
    author: { name: pusher, email: `${pusher}@users.noreply.example.com`, username: pusher },
    committer: { name: pusher, email: `${pusher}@users.noreply.example.com`, username: pusher },
    added: [...(spec.added ?? [])],
    removed: [...(spec.removed ?? [])],
    modified: [...(spec.modified ?? [])],
  }));
  payload.commits = commits as PushPayload["commits"];
  payload.head_commit = (commits.at(-1) ?? null) as PushPayload["head_commit"];
  return payload;
}

export interface CreatePayloadOptions extends RepositoryFields {
  /** Short ref name (GitHub sends "v1", not "refs/tags/v1"). */
  readonly ref: string;
  /** Default: "tag". */
  readonly refType?: "tag" | "branch";
  /** Login of the creator, also the sender. Default: the owner. */
  readonly sender?: string;
}

export function makeCreatePayload(options: CreatePayloadOptions): CreatePayload {
  const raw = loadWebhookExample("create");
  const payload = withRepository(raw, options) as unknown as CreatePayload;
  const { api, web } = urls(options);
  payload.ref = options.ref;
  payload.ref_type = options.refType ?? "tag";
  payload.master_branch = options.defaultBranch ?? "main";
  payload.pusher_type = "user";
  Object.assign(payload.sender, userFields(options.sender ?? options.owner, "User", api, web));
  return payload;
}

export interface CheckRunPayloadOptions extends RepositoryFields {
  readonly checkRunId: number;
  readonly headSha: string;
  readonly name: string;
  /** The app that owns the check run; GitHub only sends these events to it. Default: 1 / "dstack-app". */
  readonly appId?: number;
  readonly appSlug?: string;
  /** Default: "". */
  readonly externalId?: string;
  /** Default: "completed". */
  readonly status?: "queued" | "in_progress" | "completed";
  /** Default: "failure" when completed, else null. */
  readonly conclusion?: string | null;
  /** Head branch of the check suite. Default: the default branch. */
  readonly headBranch?: string;
  /** Pull requests of the check run (same repository only, as GitHub fills it). Default: none. */
  readonly pullRequests?: ReadonlyArray<{ readonly number: number; readonly headRef: string; readonly baseRef: string; readonly baseSha: string }>;
  /** Login of who clicked, also the sender. */
  readonly sender: string;
}

export function makeCheckRunRerequestedPayload(options: CheckRunPayloadOptions): CheckRunRerequestedPayload {
  return makeCheckRunPayload("rerequested", options) as unknown as CheckRunRerequestedPayload;
}

/** A click on one of the check run's buttons (`actions[].identifier`). */
export function makeCheckRunRequestedActionPayload(
  options: CheckRunPayloadOptions & { readonly identifier: string },
): CheckRunRequestedActionPayload {
  const payload = makeCheckRunPayload("requested_action", options) as unknown as CheckRunRequestedActionPayload;
  payload.requested_action = { identifier: options.identifier };
  return payload;
}

function makeCheckRunPayload(action: "rerequested" | "requested_action", options: CheckRunPayloadOptions): JsonObject {
  const payload = withRepository(loadWebhookExample("check_run", action), options);
  const { api, web, fullName } = urls(options);
  const repoId = typeof (payload["repository"] as JsonObject | undefined)?.["id"] === "number" ? (payload["repository"] as JsonObject)["id"] : 1;
  const status = options.status ?? "completed";
  const appId = options.appId ?? 1;
  const appSlug = options.appSlug ?? "dstack-app";
  const minimalRepo = { id: repoId, url: `${api}/repos/${fullName}`, name: options.repo };
  const pullRequests = (options.pullRequests ?? []).map((pr) => ({
    url: `${api}/repos/${fullName}/pulls/${pr.number}`,
    id: 300_000 + pr.number,
    number: pr.number,
    head: { ref: pr.headRef, sha: options.headSha, repo: minimalRepo },
    base: { ref: pr.baseRef, sha: pr.baseSha, repo: minimalRepo },
  }));
  const checkRun = asObject(payload["check_run"]);
  const url = `${api}/repos/${fullName}/check-runs/${options.checkRunId}`;
  Object.assign(checkRun, {
    id: options.checkRunId,
    node_id: Buffer.from(`08:CheckRun${options.checkRunId}`).toString("base64"),
    head_sha: options.headSha,
    external_id: options.externalId ?? "",
    url,
    html_url: `${web}/${fullName}/runs/${options.checkRunId}`,
    details_url: `${web}/apps/${appSlug}`,
    status,
    conclusion: status === "completed" ? (options.conclusion ?? "failure") : null,
    name: options.name,
    pull_requests: pullRequests,
  });
  const output = asObject(checkRun["output"]);
  output["annotations_url"] = `${url}/annotations`;
  const app = asObject(checkRun["app"]);
  Object.assign(app, {
    id: appId,
    slug: appSlug,
    name: appSlug,
    node_id: Buffer.from(`03:App${appId}`).toString("base64"),
    html_url: `${web}/apps/${appSlug}`,
    external_url: `${web}/apps/${appSlug}`,
  });
  const suite = asObject(checkRun["check_suite"]);
  Object.assign(suite, {
    head_sha: options.headSha,
    head_branch: options.headBranch ?? options.defaultBranch ?? "main",
    url: `${api}/repos/${fullName}/check-suites/${String(suite["id"] ?? 1)}`,
    pull_requests: pullRequests,
    app: structuredClone(app),
  });
  Object.assign(asObject(payload["sender"]), userFields(options.sender, "User", api, web));
  return payload;
}

export interface SignAndSendOptions {
  /** `X-GitHub-Event`, e.g. "issue_comment". */
  readonly event: string;
  readonly payload: unknown;
  readonly secret: string;
  /** `X-GitHub-Delivery`. Default: a random UUID, as GitHub sends. */
  readonly deliveryId?: string;
  /** Default: global fetch. */
  readonly fetch?: typeof fetch;
}

/** POSTs a payload as GitHub delivers webhooks: JSON body, event and delivery headers, sha256 HMAC. */
export async function signAndSend(
  url: string,
  options: SignAndSendOptions,
): Promise<{ status: number; body: string; deliveryId: string }> {
  const body = JSON.stringify(options.payload);
  const deliveryId = options.deliveryId ?? randomUUID();
  const response = await (options.fetch ?? fetch)(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-event": options.event,
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": await sign(options.secret, body),
    },
    body,
  });
  return { status: response.status, body: await response.text(), deliveryId };
}

// ---------------------------------------------------------------------------------------------------

function urls(options: RepositoryFields): { api: string; web: string; fullName: string } {
  return {
    api: options.apiUrl ?? "https://api.github.com",
    web: options.webUrl ?? "https://github.com",
    fullName: `${options.owner}/${options.repo}`,
  };
}

function asObject(value: unknown): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("webhook example is missing an object field the maker overwrites");
  }
  return value as JsonObject;
}

/** GitHub's user object for `login` (the URL fields follow the login; the id is the GitHub double's for it unless given). */
function userFields(login: string, type: "User" | "Bot" | "Organization", api: string, web: string, id = userIdOf(login)): JsonObject {
  const userApi = `${api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    type,
    url: userApi,
    html_url: type === "Bot" ? `${web}/apps/${login.replace(/\[bot\]$/, "")}` : `${web}/${login}`,
    followers_url: `${userApi}/followers`,
    following_url: `${userApi}/following{/other_user}`,
    gists_url: `${userApi}/gists{/gist_id}`,
    starred_url: `${userApi}/starred{/owner}{/repo}`,
    subscriptions_url: `${userApi}/subscriptions`,
    organizations_url: `${userApi}/orgs`,
    repos_url: `${userApi}/repos`,
    events_url: `${userApi}/events{/privacy}`,
    received_events_url: `${userApi}/received_events`,
  };
}

/**
 * Points the example at `owner/repo`: every URL naming the example's repository is rewritten, then the
 * repository, owner and installation fields the app reads are set.
 */
function withRepository(payload: JsonObject, options: RepositoryFields): JsonObject {
  const { api, web, fullName } = urls(options);
  const repository = asObject(payload["repository"]);
  const oldFullName = String(repository["full_name"]);
  const rewritten = rewriteStrings(payload, (text) =>
    text
      .replaceAll(`https://api.github.com/repos/${oldFullName}`, `${api}/repos/${fullName}`)
      .replaceAll(`https://github.com/${oldFullName}`, `${web}/${fullName}`)
      .replaceAll("https://api.github.com", api)
      .replaceAll("https://github.com", web),
  );
  const repo = asObject(rewritten["repository"]);
  Object.assign(repo, {
    name: options.repo,
    full_name: fullName,
    private: options.private ?? false,
    default_branch: options.defaultBranch ?? "main",
    html_url: `${web}/${fullName}`,
    url: `${api}/repos/${fullName}`,
    clone_url: `${web}/${fullName}.git`,
    ...(options.repositoryId === undefined ? {} : { id: options.repositoryId }),
  });
  if ("master_branch" in repo) repo["master_branch"] = options.defaultBranch ?? "main";
  const owner = asObject(repo["owner"]);
  Object.assign(owner, userFields(options.owner, options.ownerType ?? "Organization", api, web));
  if ("name" in owner) owner["name"] = options.owner; // push payloads carry the owner's name too
  if (rewritten["organization"] !== undefined) {
    Object.assign(asObject(rewritten["organization"]), { login: options.owner, url: `${api}/orgs/${options.owner}` });
  }
  const installationId = options.installationId ?? 1;
  rewritten["installation"] = {
    id: installationId,
    node_id: Buffer.from(`023:IntegrationInstallation${installationId}`).toString("base64"),
  };
  return rewritten;
}

function rewriteStrings(value: JsonObject, rewrite: (text: string) => string): JsonObject {
  const walk = (node: unknown): unknown => {
    if (typeof node === "string") return rewrite(node);
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === "object" && node !== null) {
      return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, walk(child)]));
    }
    return node;
  };
  return walk(value) as JsonObject;
}
