/**
 * A local HTTP server that plays GitHub's REST API for integration tests.
 *
 * The app under test talks to it exactly as it talks to GitHub Enterprise Server: set
 * `GHE_HOST=<double.host>` and `GHE_PROTOCOL=http`, and Probot/@octokit use `<double.url>` (`/api/v3`).
 *
 * Every request is checked against GitHub's own OpenAPI description (`@octokit/openapi`,
 * `api.github.com.deref.json`): the route must exist there, path and query parameters and the JSON body
 * must satisfy its schemas, and a few rules GitHub enforces but the schema only states in prose are
 * checked too. A request that breaks any of them is answered as GitHub would (404 for an unknown route,
 * 422 for a bad body) and listed in `double.violations`, so a test can end with `assertNoViolations()`.
 *
 * State (repositories with commits, pull requests, permissions, check runs, comments, reactions) lives in
 * memory; tests set it up through methods and inspect what the app did through plain arrays.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { Header, Pax } from "tar";
import { userIdOf } from "./user-ids.js";

// ---------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------

/** Repository roles as GitHub names them (`role_name`). */
export type PermissionLevel = "admin" | "maintain" | "write" | "triage" | "read" | "none";

/** File content in a commit: text (stored as UTF-8) or bytes. */
export type FileContent = string | Uint8Array;

/** Changes for `commit`: a path maps to its new content, or to `null` to delete it. */
export type FileChanges = Readonly<Record<string, FileContent | null>>;

/** Installation token permissions, e.g. `{ checks: "write", contents: "read" }`. */
export type AppPermissions = Readonly<Record<string, "read" | "write" | "admin">>;

export interface GitHubDoubleOptions {
  /** Port to listen on (127.0.0.1). Default: 0, any free port. */
  readonly port?: number;
  /** Id of the installation created at start; repositories belong to it unless told otherwise. Default: 1. */
  readonly installationId?: number;
  /** The GitHub App's id; app JWTs with another `iss` are violations. Default: 1. */
  readonly appId?: number;
  /** The app's slug; its comments are written by `<slug>[bot]`. Default: "dstack-app". */
  readonly appSlug?: string;
  /** Permissions granted to the installation. Default: checks/issues/pull_requests write, contents/metadata read. */
  readonly permissions?: AppPermissions;
  /** Login used for requests authenticated with a token the double did not issue (a PAT). Default: "octocat". */
  readonly userLogin?: string;
  /**
   * Check every JSON response of the double against the OpenAPI response schema and list mismatches in
   * `selfCheckProblems` (a bug in the double, not in the app). Default: true.
   */
  readonly checkResponses?: boolean;
  /** The app's OAuth client secret ("Sign in with GitHub"; the client id is `clientId`). Default: "double-oauth-client-secret". */
  readonly clientSecret?: string;
  /** Lifetime of user access tokens from the OAuth web flow (GitHub's `expires_in`). Default: 28800 (8 hours). */
  readonly userTokenExpiresInSeconds?: number;
  /**
   * `GET /login/oauth/authorize` shows a page with an "Authorize" button (as GitHub does the first
   * time) instead of redirecting back at once; the redirect back then starts on the double's site.
   * Default: false.
   */
  readonly oauthConsentPage?: boolean;
}

/** A user access token issued by the OAuth web flow (`ghu_...`): requests with it act as `login`. */
export interface UserAccessToken {
  readonly token: string;
  readonly login: string;
  readonly expiresAt: Date;
}

export interface AddRepoOptions {
  readonly owner: string;
  readonly name: string;
  /** Default: "main". */
  readonly defaultBranch?: string;
  /** Files of the first commit on the default branch. Default: `{ "README.md": "# <name>\n" }`. */
  readonly files?: FileChanges;
  /** Default: false. Non-collaborators read public repositories (see `setPermission`). */
  readonly private?: boolean;
  /** Default: false. */
  readonly fork?: boolean;
  /** Installation that holds the repository. Default: the double's installation. */
  readonly installationId?: number;
  /** Type of the owner account. Default: "Organization". */
  readonly ownerType?: "User" | "Organization";
  /** Message of the first commit. Default: "Initial commit". */
  readonly message?: string;
}

export interface CommitOptions {
  /** Branch to advance (created from `parent` or the default branch's head if missing). Default: the default branch. */
  readonly branch?: string;
  /** Create the commit without moving any branch (e.g. the head of a fork's pull request). Default: false. */
  readonly detached?: boolean;
  /** Parent commit sha. Default: the branch's head (or the default branch's head for a new branch). */
  readonly parent?: string;
  /** Default: "Update files". */
  readonly message?: string;
  /** Commit author. Default: `{ name: "Mona Lisa", email: "mona@example.com" }`. */
  readonly author?: { readonly name: string; readonly email: string };
}

export interface AddPullRequestOptions {
  readonly owner: string;
  readonly repo: string;
  /** Default: the next issue number of the repository. */
  readonly number?: number;
  /** Head commit; must exist in the repository (use `commit` with `detached` for forks). Default: head of `headRef`. */
  readonly headSha?: string;
  readonly headRef: string;
  /** Default: the repository's default branch. */
  readonly baseRef?: string;
  /** `owner/name` of the head repository; differs from the base repository for forks. Default: the base repository. */
  readonly headRepoFullName?: string;
  /** Author login. Default: "octocat". */
  readonly user?: string;
  readonly title?: string;
  readonly body?: string;
  readonly draft?: boolean;
}

export interface AddIssueOptions {
  readonly owner: string;
  readonly repo: string;
  /** Default: the next issue number of the repository. */
  readonly number?: number;
  readonly title?: string;
  readonly body?: string;
  /** Author login. Default: "octocat". */
  readonly user?: string;
}

export interface AddIssueCommentOptions {
  readonly owner: string;
  readonly repo: string;
  readonly issueNumber: number;
  readonly body: string;
  /** Author login. Default: "octocat". */
  readonly user?: string;
  /** Default: the next comment id. Use the same id in the webhook payload. */
  readonly id?: number;
}

/** One request the double received. `path` is relative to the API base (`/repos/o/r/check-runs`). */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  /** The OpenAPI template it matched (`/repos/{owner}/{repo}/check-runs`), if any. */
  route: string | undefined;
  readonly query: Readonly<Record<string, string>>;
  /** Parsed JSON body, or the raw text if it was not JSON, or undefined. */
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** Who the request authenticated as: "app" (JWT), "installation:<id>", "user:<login>" or "none". */
  auth: string;
  readonly at: Date;
  /** Response status; 0 while the request is in flight. */
  status: number;
}

export interface SimpleUser {
  readonly login: string;
  readonly id: number;
  readonly node_id: string;
  readonly type: string;
  readonly html_url: string;
  readonly [field: string]: unknown;
}

export interface CheckRunOutput {
  title: string | null;
  summary: string | null;
  text: string | null;
  annotations_count: number;
  readonly annotations_url: string;
}

/** A check run as GitHub returns it (the fields tests look at are typed; the rest are there too). */
export interface CheckRun {
  readonly id: number;
  readonly node_id: string;
  readonly head_sha: string;
  name: string;
  readonly url: string;
  readonly html_url: string;
  details_url: string;
  status: string;
  conclusion: string | null;
  started_at: string | null;
  completed_at: string | null;
  external_id: string;
  output: CheckRunOutput;
  readonly check_suite: { readonly id: number };
  readonly app: Readonly<Record<string, unknown>>;
  pull_requests: unknown[];
}

/** One create (POST) or update (PATCH) of a check run, with the state right after it. */
export interface CheckRunUpdate {
  readonly at: Date;
  readonly method: "POST" | "PATCH";
  readonly body: Readonly<Record<string, unknown>>;
  readonly state: CheckRun;
}

export interface CheckRunAnnotation {
  readonly path: string;
  readonly start_line: number;
  readonly end_line: number;
  readonly start_column?: number;
  readonly end_column?: number;
  readonly annotation_level: string;
  readonly message: string;
  readonly title?: string;
  readonly raw_details?: string;
}

/** An issue or pull request comment as GitHub returns it. */
export interface IssueComment {
  readonly id: number;
  readonly node_id: string;
  readonly url: string;
  readonly html_url: string;
  readonly issue_url: string;
  body: string;
  readonly user: SimpleUser;
  readonly created_at: string;
  updated_at: string;
  readonly author_association: string;
  readonly performed_via_github_app: Readonly<Record<string, unknown>> | null;
  readonly reactions: Record<string, unknown>;
}

export interface ReactionRecord {
  readonly owner: string;
  readonly repo: string;
  readonly commentId: number;
  readonly content: string;
  readonly user: string;
  readonly id: number;
  readonly at: Date;
}

export interface InstallationToken {
  readonly token: string;
  readonly installationId: number;
  readonly expiresAt: Date;
  readonly permissions: AppPermissions;
  /** Repository names the token was narrowed to, if any. */
  readonly repositories: readonly string[] | undefined;
}

/**
 * Which requests a fault applies to: `"PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}"` (route
 * template), `"PATCH /repos/acme/demo/check-runs/7"` (concrete path), either without the method, a RegExp
 * tested against `"METHOD /path"`, or a predicate.
 */
export type RequestMatcher = string | RegExp | ((request: RecordedRequest) => boolean);

export interface FaultOptions {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON body. Default: `{ message, documentation_url, status }` like GitHub's errors. */
  readonly body?: unknown;
  /** How many matching requests fail. Default: 1. */
  readonly times?: number;
}

export interface WaitForOptions {
  /**
   * Default: 20000, for a loaded CI machine (5 s was short for waits that span a whole run of a
   * workflow); a wait that succeeds returns as soon as the state appears.
   */
  readonly timeoutMs?: number;
  /** What is awaited, for the timeout message. Default: the predicate's source. */
  readonly description?: string;
}

export interface GitHubDouble {
  /** API base, `http://127.0.0.1:<port>/api/v3` (what @octokit calls `baseUrl`). */
  readonly url: string;
  /** `127.0.0.1:<port>`, for `GHE_HOST`. */
  readonly host: string;
  /** Web base for `html_url`s, `http://127.0.0.1:<port>`. */
  readonly webUrl: string;
  readonly appId: number;
  readonly appSlug: string;
  readonly installationId: number;
  /** The app's OAuth client id and secret, for GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** User tokens issued by the OAuth web flow, in order. */
  readonly userTokens: readonly UserAccessToken[];
  /** Milliseconds this process spent reading and indexing the OpenAPI description (once per process). */
  readonly openApiLoadMs: number;

  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[];
  /** Requests GitHub would have refused or that the double does not serve; each names method, path and JSON pointer. */
  readonly violations: string[];
  /** Responses of the double that do not match GitHub's response schemas (bugs in the double). */
  readonly selfCheckProblems: string[];
  /** App JWTs presented (Bearer). */
  readonly appJwts: readonly string[];
  /** Installation tokens issued. */
  readonly installationTokens: readonly InstallationToken[];
  /** Current state of every check run, in creation order. */
  readonly checkRuns: readonly CheckRun[];
  /** Every comment on issues and pull requests (seeded ones too), in creation order. */
  readonly comments: readonly IssueComment[];
  readonly reactions: readonly ReactionRecord[];

  addRepo(options: AddRepoOptions): { readonly owner: string; readonly name: string; readonly sha: string };
  /** Adds a commit and returns its sha; the tree is the parent's plus `files` (`null` deletes). */
  commit(owner: string, name: string, files: FileChanges, options?: CommitOptions): string;
  createBranch(owner: string, name: string, branch: string, fromRef?: string): string;
  createTag(owner: string, name: string, tag: string, ref?: string): string;
  /** The sha a ref (branch, tag, `refs/...`, sha or short sha) points to. */
  resolveRef(owner: string, name: string, ref: string): string;
  addIssue(options: AddIssueOptions): number;
  addPullRequest(options: AddPullRequestOptions): number;
  /** Moves a pull request's head to `sha` (a new push to its branch, or to the fork it comes from). */
  pushToPullRequest(owner: string, repo: string, number: number, sha: string): void;
  addIssueComment(options: AddIssueCommentOptions): IssueComment;
  setPermission(owner: string, repo: string, user: string, level: PermissionLevel): void;
  /**
   * The account `from` renames itself `to`, as on GitHub: its id, permissions and user tokens go with
   * it, and `from` is free, so the next use of `from` is a new account with a new id.
   */
  renameUser(from: string, to: string): void;
  /** The account id a login names now (the one webhooks.ts gives it, unless the login was renamed away). */
  userId(login: string): number;
  addInstallation(options: { readonly id: number; readonly account?: string; readonly permissions?: AppPermissions }): void;
  /** Makes every installation token issued so far expire (GitHub then answers 401 "Bad credentials"). */
  expireTokens(): void;
  /**
   * Who approves the app at `GET /login/oauth/authorize`: the browser sent there comes straight back
   * to `redirect_uri` with a code for this user (as when they are signed in to GitHub and approve);
   * undefined: they deny (`error=access_denied`). Default: undefined.
   */
  signInAs(login: string | undefined): void;

  checkRun(id: number): CheckRun | undefined;
  checkRunUpdates(id: number): readonly CheckRunUpdate[];
  checkRunAnnotations(id: number): readonly CheckRunAnnotation[];
  /** Bodies a comment had, oldest first (creation, then each PATCH). */
  commentHistory(id: number): readonly string[];
  commentsOn(owner: string, repo: string, issueNumber: number): readonly IssueComment[];

  /** The next `times` requests matching `matcher` (after validation) are answered with this fault. */
  failNext(matcher: RequestMatcher, fault: FaultOptions): void;
  /**
   * Resolves with the first value of `predicate(double)` that is not undefined, null or false; it is
   * re-evaluated after every request and state change. Rejects after `timeoutMs` naming what was awaited.
   */
  waitFor<T>(predicate: (double: GitHubDouble) => T, options?: WaitForOptions): Promise<Exclude<T, undefined | null | false>>;
  /** Throws listing every violation (and self-check problem). */
  assertNoViolations(): void;
  /** Stops the server; idempotent. Pending `waitFor`s reject. */
  close(): Promise<void>;
}

/**
 * GitHub's answer to too many content-creating requests: 403 with `retry-after`, which Octokit's
 * throttling plugin recognises by the message. https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
 */
export function secondaryRateLimit(retryAfterSeconds = 1, times = 1): FaultOptions {
  return {
    status: 403,
    times,
    headers: { "retry-after": String(retryAfterSeconds), "x-ratelimit-remaining": "4999" },
    body: {
      message:
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
      documentation_url:
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      status: "403",
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// OpenAPI description: loaded once per process, compiled into a route table
// ---------------------------------------------------------------------------------------------------

/** The subset of JSON Schema (OpenAPI 3.0 flavour) that GitHub's request and response schemas use. */
interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly nullable?: boolean;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minProperties?: number;
  readonly maxProperties?: number;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
  readonly allOf?: readonly JsonSchema[];
}

interface OpenApiParameter {
  readonly name: string;
  readonly in: string;
  readonly required?: boolean;
  readonly schema?: JsonSchema & { readonly "x-multi-segment"?: boolean };
  readonly "x-multi-segment"?: boolean;
}

interface OpenApiOperation {
  readonly operationId?: string;
  readonly parameters?: readonly OpenApiParameter[];
  readonly requestBody?: {
    readonly required?: boolean;
    readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>>;
  };
  readonly responses?: Readonly<Record<string, { readonly content?: Readonly<Record<string, { readonly schema?: JsonSchema }>> }>>;
  readonly externalDocs?: { readonly url?: string };
}

interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

interface CompiledRoute {
  readonly method: string;
  readonly template: string;
  readonly regex: RegExp;
  readonly paramNames: readonly string[];
  readonly literalSegments: number;
  readonly multiSegment: boolean;
  readonly operationId: string;
  readonly docsUrl: string;
  readonly pathParams: ReadonlyMap<string, JsonSchema>;
  readonly queryParams: ReadonlyMap<string, { readonly required: boolean; readonly schema: JsonSchema }>;
  /** Undefined when the operation takes no body. `schema` is undefined for non-JSON bodies. */
  readonly body: { readonly required: boolean; readonly schema: JsonSchema | undefined } | undefined;
  /** JSON response schemas by status; kept only for routes the double serves (the rest is garbage-collected). */
  readonly responses: ReadonlyMap<number, JsonSchema>;
}

interface OpenApiIndex {
  readonly routesByMethod: ReadonlyMap<string, readonly CompiledRoute[]>;
  readonly loadMs: number;
}

// Resolved through Node's module resolution so this helper also works compiled (bench/ runs it from dist/).
const OPENAPI_FILE = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@octokit/openapi/package.json")),
  "generated/api.github.com.deref.json",
);
const HTTP_METHODS = new Set(["get", "put", "post", "patch", "delete", "head", "options"]);

let openApiIndex: Promise<OpenApiIndex> | undefined;

/** Reads, parses and compiles the 73 MB description once per process (about 0.6 s); later calls share it. */
function loadOpenApiIndex(): Promise<OpenApiIndex> {
  openApiIndex ??= buildOpenApiIndex().catch((error: unknown) => {
    openApiIndex = undefined; // let the next test retry rather than replaying a stale failure
    throw error;
  });
  return openApiIndex;
}

async function buildOpenApiIndex(): Promise<OpenApiIndex> {
  const started = performance.now();
  // A trusted file shipped with @octokit/openapi: parsed once and read through the types above.
  const document = JSON.parse(await readFile(OPENAPI_FILE, "utf8")) as OpenApiDocument;
  const routesByMethod = new Map<string, CompiledRoute[]>();
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, value] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const route = compileRoute(method.toUpperCase(), template, value as OpenApiOperation);
      const list = routesByMethod.get(route.method) ?? [];
      list.push(route);
      routesByMethod.set(route.method, list);
    }
  }
  // More literal segments first, so `/issues/comments` wins over `/issues/{issue_number}` and
  // `/commits/{ref}/check-runs` over the multi-segment `/commits/{ref}`.
  for (const list of routesByMethod.values()) {
    list.sort(
      (a, b) =>
        b.literalSegments - a.literalSegments ||
        Number(a.multiSegment) - Number(b.multiSegment) ||
        a.paramNames.length - b.paramNames.length,
    );
  }
  return { routesByMethod, loadMs: Math.round(performance.now() - started) };
}

function compileRoute(method: string, template: string, operation: OpenApiOperation): CompiledRoute {
  const multi = new Set<string>();
  const pathParams = new Map<string, JsonSchema>();
  const queryParams = new Map<string, { required: boolean; schema: JsonSchema }>();
  for (const parameter of operation.parameters ?? []) {
    const schema = parameter.schema ?? {};
    if (parameter.in === "path") {
      pathParams.set(parameter.name, schema);
      // Refs, branch names and file paths may contain `/`; GitHub marks those parameters.
      if (parameter["x-multi-segment"] === true || schema["x-multi-segment"] === true) multi.add(parameter.name);
    } else if (parameter.in === "query") {
      queryParams.set(parameter.name, { required: parameter.required === true, schema });
    }
  }
  const segments = template.split("/").slice(1);
  const paramNames: string[] = [];
  let literalSegments = 0;
  let pattern = "";
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    const whole = /^\{([^}]+)\}$/.exec(segment)?.[1];
    if (last && whole !== undefined && multi.has(whole)) {
      // A trailing multi-segment parameter may be empty, slash included: octokit sends
      // `getContent({ path: "" })` as `/repos/o/r/contents`, which GitHub answers with the root listing.
      paramNames.push(whole);
      pattern += "(?:/(.*))?";
      return;
    }
    if (!segment.includes("{")) {
      literalSegments += 1;
      pattern += `/${escapeRegExp(segment)}`;
      return;
    }
    pattern += `/${segment.replace(/\{([^}]+)\}|([^{]+)/g, (_match, name: string | undefined, text: string | undefined) => {
      if (name === undefined) return escapeRegExp(text ?? "");
      paramNames.push(name);
      return multi.has(name) ? "(.+)" : "([^/]+)";
    })}`;
  });
  const jsonBody = operation.requestBody?.content?.["application/json"];
  const responses = new Map<number, JsonSchema>();
  if (HANDLERS.has(`${method} ${template}`)) {
    for (const [status, response] of Object.entries(operation.responses ?? {})) {
      const schema = response.content?.["application/json"]?.schema;
      if (schema !== undefined) responses.set(Number(status), schema);
    }
  }
  return {
    method,
    template,
    regex: new RegExp(`^${pattern}$`),
    paramNames,
    literalSegments,
    multiSegment: multi.size > 0,
    operationId: operation.operationId ?? `${method} ${template}`,
    docsUrl: operation.externalDocs?.url ?? "https://docs.github.com/rest",
    pathParams,
    queryParams,
    body:
      operation.requestBody === undefined
        ? undefined
        : { required: operation.requestBody.required === true, schema: jsonBody?.schema },
    responses,
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

interface RouteMatch {
  readonly route: CompiledRoute;
  readonly params: Readonly<Record<string, string>>;
}

function matchRoute(index: OpenApiIndex, method: string, path: string): RouteMatch | undefined {
  for (const route of index.routesByMethod.get(method) ?? []) {
    const match = route.regex.exec(path);
    if (match === null) continue;
    const params: Record<string, string> = {};
    route.paramNames.forEach((name, i) => {
      params[name] = safeDecode(match[i + 1] ?? "");
    });
    return { route, params };
  }
  return undefined;
}

/** Methods for which `path` is a route, to tell "wrong method" from "no such path". */
function methodsFor(index: OpenApiIndex, path: string): string[] {
  const methods: string[] = [];
  for (const [method, routes] of index.routesByMethod) {
    if (routes.some((route) => route.regex.test(path))) methods.push(method);
  }
  return methods;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // malformed escapes: keep the raw text, the handler will not find it
  }
}

// ---------------------------------------------------------------------------------------------------
// A compact JSON Schema validator (the keywords GitHub's description uses)
// ---------------------------------------------------------------------------------------------------

const patternCache = new Map<string, RegExp | null>();
// Loose on purpose: GitHub accepts ISO 8601 with or without seconds/fractions and with offsets.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

function validateSchema(schema: JsonSchema, value: unknown, pointer: string, problems: string[]): void {
  if (value === null && schema.nullable === true) return;
  if (schema.type !== undefined) {
    const types = typeof schema.type === "string" ? [schema.type] : schema.type;
    if (!types.some((type) => matchesType(type, value))) {
      problems.push(`${at(pointer)}: expected ${types.join(" or ")}, got ${describe(value)}`);
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((allowed) => allowed === value)) {
    const allowed = schema.enum.map((v) => JSON.stringify(v)).join(", ");
    problems.push(`${at(pointer)}: ${describe(value)} is not one of ${allowed}`);
  }
  if (typeof value === "string") validateString(schema, value, pointer, problems);
  else if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      problems.push(`${at(pointer)}: ${value} is less than the minimum ${schema.minimum}`);
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      problems.push(`${at(pointer)}: ${value} is more than the maximum ${schema.maximum}`);
    }
  } else if (Array.isArray(value)) validateArray(schema, value, pointer, problems);
  else if (isRecord(value)) validateObject(schema, value, pointer, problems);

  for (const sub of schema.allOf ?? []) validateSchema(sub, value, pointer, problems);
  // GitHub's oneOf branches often overlap (objects without additionalProperties: false), so "exactly
  // one" would reject requests GitHub accepts: both keywords are checked as "at least one".
  if (schema.anyOf !== undefined) validateAlternatives("anyOf", schema.anyOf, value, pointer, problems);
  if (schema.oneOf !== undefined) validateAlternatives("oneOf", schema.oneOf, value, pointer, problems);
}

function validateString(schema: JsonSchema, value: string, pointer: string, problems: string[]): void {
  // `length` counts UTF-16 units, never fewer than code points: count code points only when it matters.
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    const length = [...value].length;
    if (length > schema.maxLength) {
      problems.push(`${at(pointer)}: is ${length} characters long, more than the maximum ${schema.maxLength}`);
    }
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    problems.push(`${at(pointer)}: is shorter than the minimum length ${schema.minLength}`);
  }
  if (schema.pattern !== undefined) {
    const regex = compilePattern(schema.pattern);
    if (regex !== null && !regex.test(value)) {
      problems.push(`${at(pointer)}: ${describe(value)} does not match /${schema.pattern}/`);
    }
  }
  if (schema.format === "date-time" && !DATE_TIME.test(value)) {
    problems.push(`${at(pointer)}: ${describe(value)} is not an ISO 8601 date-time`);
  }
}

function validateArray(schema: JsonSchema, value: readonly unknown[], pointer: string, problems: string[]): void {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    problems.push(`${at(pointer)}: has ${value.length} items, fewer than the minimum ${schema.minItems}`);
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    problems.push(`${at(pointer)}: has ${value.length} items, more than the maximum ${schema.maxItems}`);
  }
  if (schema.uniqueItems === true && new Set(value.map((item) => JSON.stringify(item))).size !== value.length) {
    problems.push(`${at(pointer)}: items are not unique`);
  }
  const items = schema.items;
  if (items !== undefined) value.forEach((item, i) => validateSchema(items, item, `${pointer}/${i}`, problems));
}

function validateObject(
  schema: JsonSchema,
  value: Readonly<Record<string, unknown>>,
  pointer: string,
  problems: string[],
): void {
  for (const name of schema.required ?? []) {
    if (value[name] === undefined) problems.push(`${at(`${pointer}/${escapePointer(name)}`)}: is required`);
  }
  const keys = Object.keys(value);
  if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
    problems.push(`${at(pointer)}: has more than ${schema.maxProperties} properties`);
  }
  if (schema.minProperties !== undefined && keys.length < schema.minProperties) {
    problems.push(`${at(pointer)}: has fewer than ${schema.minProperties} properties`);
  }
  for (const key of keys) {
    const child = value[key];
    const childPointer = `${pointer}/${escapePointer(key)}`;
    const property = schema.properties?.[key];
    if (property !== undefined) {
      if (child !== undefined) validateSchema(property, child, childPointer, problems);
    } else if (schema.additionalProperties === false) {
      problems.push(`${at(childPointer)}: is not a permitted property`);
    } else if (typeof schema.additionalProperties === "object") {
      validateSchema(schema.additionalProperties, child, childPointer, problems);
    }
  }
}

function validateAlternatives(
  keyword: string,
  alternatives: readonly JsonSchema[],
  value: unknown,
  pointer: string,
  problems: string[],
): void {
  let closest: string[] | undefined;
  for (const alternative of alternatives) {
    const attempt: string[] = [];
    validateSchema(alternative, value, pointer, attempt);
    if (attempt.length === 0) return;
    if (closest === undefined || attempt.length < closest.length) closest = attempt;
  }
  problems.push(
    `${at(pointer)}: matches none of the ${alternatives.length} ${keyword} alternatives; the closest fails with: ${(closest ?? []).join("; ")}`,
  );
}

function compilePattern(pattern: string): RegExp | null {
  let regex = patternCache.get(pattern);
  if (regex === undefined) {
    try {
      regex = new RegExp(pattern, "u");
    } catch {
      regex = null; // a pattern JavaScript cannot compile is skipped rather than failing every request
    }
    patternCache.set(pattern, regex);
  }
  return regex;
}

function matchesType(type: string, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isRecord(value);
    case "null":
      return value === null;
    default:
      return true;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function at(pointer: string): string {
  return pointer.endsWith(":") ? `${pointer}(root)` : pointer;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

/** Query and path parameters arrive as text: convert what the schema says is a number or boolean. */
function coerceParameter(schema: JsonSchema, raw: string): unknown {
  const type = typeof schema.type === "string" ? schema.type : schema.type?.[0];
  if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (type === "boolean" && (raw === "true" || raw === "false")) return raw === "true";
  if (type === "array") return raw.split(",");
  return raw;
}

/**
 * Problems of a request, each as `<where>:<JSON pointer>: <what>`: `body:/output/title: is required`,
 * `query:per_page: ...`, `path:check_run_id: ...`.
 */
function validateRequest(match: RouteMatch, query: URLSearchParams, body: unknown): string[] {
  const { route, params } = match;
  const problems: string[] = [];
  for (const [name, schema] of route.pathParams) {
    const raw = params[name];
    if (raw !== undefined) validateSchema(schema, coerceParameter(schema, raw), `path:${name}`, problems);
  }
  for (const [name, { required, schema }] of route.queryParams) {
    const raw = query.get(name);
    if (raw === null) {
      if (required) problems.push(`query:${name}: is required`);
    } else {
      validateSchema(schema, coerceParameter(schema, raw), `query:${name}`, problems);
    }
  }
  if (route.body === undefined) {
    if (body !== undefined && !(isRecord(body) && Object.keys(body).length === 0)) {
      problems.push("body: this operation takes no request body");
    }
  } else if (body === undefined) {
    if (route.body.required) problems.push("body: is required");
  } else if (route.body.schema !== undefined) {
    validateSchema(route.body.schema, body, "body:", problems);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// In-memory git: blobs, trees and commits with git's own object ids
// ---------------------------------------------------------------------------------------------------

interface GitCommit {
  readonly sha: string;
  readonly treeSha: string;
  /** Path -> content for every file. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** Path -> blob sha for files, tree sha for directories ("" is the root). */
  readonly objectShas: ReadonlyMap<string, string>;
  readonly parents: readonly string[];
  readonly message: string;
  readonly author: { readonly name: string; readonly email: string; readonly date: string };
}

function gitObjectSha(kind: string, content: Buffer): string {
  return createHash("sha1").update(`${kind} ${content.length}\0`).update(content).digest("hex");
}

/** Computes blob and tree shas as git does, so ids look and behave like GitHub's. */
function hashTree(files: ReadonlyMap<string, Buffer>): { treeSha: string; objectShas: Map<string, string> } {
  const objectShas = new Map<string, string>();
  const children = new Map<string, Map<string, "file" | "dir">>([["", new Map()]]);
  for (const [path, content] of files) {
    objectShas.set(path, gitObjectSha("blob", content));
    const parts = path.split("/");
    for (let i = 0; i < parts.length; i += 1) {
      const parent = parts.slice(0, i).join("/");
      const entries = children.get(parent) ?? new Map<string, "file" | "dir">();
      children.set(parent, entries);
      entries.set(parts[i] ?? "", i === parts.length - 1 ? "file" : "dir");
    }
  }
  const treeOf = (dir: string): string => {
    const entries = [...(children.get(dir) ?? new Map<string, "file" | "dir">())];
    // git sorts tree entries by name, comparing a directory as if its name ended with "/".
    entries.sort(([a, ka], [b, kb]) => {
      const left = ka === "dir" ? `${a}/` : a;
      const right = kb === "dir" ? `${b}/` : b;
      return left < right ? -1 : left > right ? 1 : 0;
    });
    const chunks = entries.map(([name, kind]) => {
      const path = dir === "" ? name : `${dir}/${name}`;
      const sha = kind === "dir" ? treeOf(path) : (objectShas.get(path) ?? "");
      return Buffer.concat([Buffer.from(`${kind === "dir" ? "40000" : "100644"} ${name}\0`), Buffer.from(sha, "hex")]);
    });
    const sha = gitObjectSha("tree", Buffer.concat(chunks));
    objectShas.set(dir, sha);
    return sha;
  };
  return { treeSha: treeOf(""), objectShas };
}

function normalizeRepoPath(path: string): string {
  const normalized = path.replace(/^\/+|\/+$/g, "");
  if (normalized === "" || normalized.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`invalid file path in a commit: ${JSON.stringify(path)}`);
  }
  return normalized;
}

/**
 * A gzip tarball like GitHub's (`git archive`): a pax global header carrying the commit sha, then
 * everything under one `owner-repo-<sha7>/` directory, directories listed before their files.
 */
function buildTarball(prefix: string, commit: GitCommit): Buffer {
  const blocks: Buffer[] = [new Pax({ comment: commit.sha }, true).encode()];
  const mtime = new Date(commit.author.date);
  const add = (path: string, type: "File" | "Directory", mode: number, body?: Buffer): void => {
    const size = body?.length ?? 0;
    const header = new Header({ path, mode, size, type, mtime, uid: 0, gid: 0, uname: "root", gname: "root" });
    const block = Buffer.alloc(512);
    // Paths over 100 bytes do not fit a ustar header: tar then needs a pax header before it.
    if (header.encode(block, 0)) blocks.push(new Pax({ path, mtime, size }).encode());
    blocks.push(block);
    if (body !== undefined && size > 0) {
      blocks.push(body);
      const padding = (512 - (size % 512)) % 512;
      if (padding > 0) blocks.push(Buffer.alloc(padding));
    }
  };
  add(`${prefix}/`, "Directory", 0o775);
  const emitted = new Set<string>();
  for (const path of [...commit.files.keys()].sort()) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i += 1) {
      const dir = parts.slice(0, i).join("/");
      if (!emitted.has(dir)) {
        emitted.add(dir);
        add(`${prefix}/${dir}/`, "Directory", 0o775);
      }
    }
    add(`${prefix}/${path}`, "File", 0o664, commit.files.get(path));
  }
  blocks.push(Buffer.alloc(1024)); // end of archive: two zero blocks
  return gzipSync(Buffer.concat(blocks));
}

// ---------------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------------

interface RepoState {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  readonly ownerType: "User" | "Organization";
  readonly private: boolean;
  readonly fork: boolean;
  readonly defaultBranch: string;
  readonly installationId: number;
  readonly createdAt: string;
  pushedAt: string;
  readonly branches: Map<string, string>;
  readonly tags: Map<string, string>;
  readonly commits: Map<string, GitCommit>;
  readonly issues: Map<number, IssueState>;
  readonly pulls: Map<number, PullState>;
  readonly permissions: Map<string, PermissionLevel>;
  readonly tarballs: Map<string, Buffer>;
  nextIssueNumber: number;
}

interface IssueState {
  readonly number: number;
  readonly id: number;
  readonly title: string;
  readonly body: string;
  readonly user: string;
  readonly createdAt: string;
  /** Moved by a new comment and, for a pull request, a push to its head (as GitHub does). */
  updatedAt: string;
  readonly isPullRequest: boolean;
}

interface PullState {
  readonly number: number;
  readonly id: number;
  readonly headSha: string;
  readonly headRef: string;
  readonly baseRef: string;
  readonly headRepoFullName: string;
  readonly draft: boolean;
}

interface InstallationState {
  readonly id: number;
  readonly account: string | undefined;
  readonly permissions: AppPermissions;
  readonly createdAt: string;
}

interface CheckRunState {
  readonly owner: string;
  readonly repo: string;
  readonly data: CheckRun;
  readonly annotations: CheckRunAnnotation[];
  readonly updates: CheckRunUpdate[];
}

interface CommentState {
  readonly owner: string;
  readonly repo: string;
  readonly issueNumber: number;
  readonly data: IssueComment;
  readonly history: string[];
}

type Actor =
  | { readonly kind: "app" }
  | { readonly kind: "installation"; readonly token: InstallationToken }
  | { readonly kind: "user"; readonly login: string }
  /** A `ghs_` token the double never issued: GitHub answers 401. */
  | { readonly kind: "unknown-token" }
  | { readonly kind: "none" };

interface HandlerContext {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly actor: Actor;
  readonly headers: Readonly<Record<string, string>>;
  /** Full URL of the request (for pagination links). */
  readonly url: URL;
}

interface Reply {
  readonly status: number;
  readonly json?: unknown;
  readonly raw?: { readonly body: Buffer | string; readonly contentType: string };
  readonly headers?: Readonly<Record<string, string>>;
}

/** An answer GitHub gives instead of doing the work; `violation` marks requests the app should not send. */
class GitHubError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly violation = false,
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

const notFound = (): GitHubError => new GitHubError(404, "Not Found");
/** A rule GitHub enforces that the JSON schema only states in prose: 422 and a violation. */
const rejected = (message: string): GitHubError => new GitHubError(422, message, true);

const DEFAULT_PERMISSIONS: AppPermissions = {
  checks: "write",
  contents: "read",
  issues: "write",
  metadata: "read",
  pull_requests: "write",
};
const PERMISSION_RANK: Readonly<Record<string, number>> = { read: 1, write: 2, admin: 3 };
/** GitHub's legacy `permission` for each role: maintain reads as write, triage as read. */
const LEGACY_PERMISSION: Readonly<Record<PermissionLevel, string>> = {
  admin: "admin",
  maintain: "write",
  write: "write",
  triage: "read",
  read: "read",
  none: "none",
};
const REACTIONS = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"] as const;
// GitHub refuses longer issue comments with 422 (not stated in the OpenAPI schema).
const COMMENT_MAX_CHARS = 65536;
// The contents API returns no content for files over 1 MB (encoding "none"); the app must fall back.
const CONTENTS_INLINE_MAX_BYTES = 1024 * 1024;

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** GitHub's legacy global node ids: base64 of `0<length>:<Type><id>`. */
function nodeId(type: string, id: number): string {
  return Buffer.from(`0${type.length}:${type}${id}`).toString("base64");
}

function repoKey(owner: string, name: string): string {
  return `${owner}/${name}`.toLowerCase(); // GitHub's owner and repository names are case-insensitive
}

// ---------------------------------------------------------------------------------------------------
// The double
// ---------------------------------------------------------------------------------------------------

interface Waiter {
  check(): boolean;
  fail(error: Error): void;
}

interface Fault {
  readonly matcher: RequestMatcher;
  readonly options: FaultOptions;
  remaining: number;
}

class GitHubDoubleServer implements GitHubDouble {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly selfCheckProblems: string[] = [];
  readonly appJwts: string[] = [];
  readonly installationTokens: InstallationToken[] = [];
  readonly userTokens: UserAccessToken[] = [];
  readonly appId: number;
  readonly appSlug: string;
  readonly installationId: number;
  readonly openApiLoadMs: number;
  readonly clientSecret: string;

  url = "";
  host = "";
  webUrl = "";

  readonly #index: OpenApiIndex;
  readonly #options: GitHubDoubleOptions;
  readonly #server = createServer((req, res) => {
    this.#handle(req, res).catch(() => res.destroy()); // the client went away mid-request: nothing to answer
  });
  readonly #repos = new Map<string, RepoState>();
  readonly #installations = new Map<number, InstallationState>();
  readonly #checkRuns = new Map<number, CheckRunState>();
  readonly #checkSuites = new Map<string, number>();
  readonly #comments = new Map<number, CommentState>();
  readonly #reactions: ReactionRecord[] = [];
  readonly #users = new Map<string, number>();
  readonly #waiters = new Set<Waiter>();
  readonly #faults: Fault[] = [];
  readonly #expiredTokens = new Set<string>();
  readonly #oauthCodes = new Map<string, { readonly login: string; readonly redirectUri: string; readonly challenge: string | undefined }>();
  #oauthLogin: string | undefined;
  readonly #startedAt = isoSeconds(new Date());
  // Distinct id ranges per kind, so a test that mixes up a comment id and a check run id fails.
  readonly #nextId = { repo: 100_001, issue: 200_001, pull: 300_001, checkRun: 400_001, suite: 500_001, comment: 600_001, reaction: 700_001, user: 800_001 };
  #lastCommitSeconds = 0;
  #closing: Promise<void> | undefined;

  constructor(index: OpenApiIndex, options: GitHubDoubleOptions) {
    this.#index = index;
    this.#options = options;
    this.openApiLoadMs = index.loadMs;
    this.appId = options.appId ?? 1;
    this.appSlug = options.appSlug ?? "dstack-app";
    this.installationId = options.installationId ?? 1;
    this.clientSecret = options.clientSecret ?? "double-oauth-client-secret";
    this.addInstallation({ id: this.installationId, permissions: options.permissions });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const { port } = this.#server.address() as AddressInfo;
    this.host = `127.0.0.1:${port}`;
    this.webUrl = `http://${this.host}`;
    this.url = `${this.webUrl}/api/v3`;
  }

  get checkRuns(): readonly CheckRun[] {
    return [...this.#checkRuns.values()].map((state) => state.data);
  }

  get comments(): readonly IssueComment[] {
    return [...this.#comments.values()].map((state) => state.data);
  }

  get reactions(): readonly ReactionRecord[] {
    return this.#reactions;
  }

  // ----- setup ---------------------------------------------------------------------------------------

  get clientId(): string {
    return `Iv1.${this.appId.toString(16).padStart(16, "0")}`;
  }

  signInAs(login: string | undefined): void {
    this.#oauthLogin = login;
  }

  addInstallation(options: { readonly id: number; readonly account?: string; readonly permissions?: AppPermissions }): void {
    this.#installations.set(options.id, {
      id: options.id,
      account: options.account,
      permissions: options.permissions ?? DEFAULT_PERMISSIONS,
      createdAt: this.#startedAt,
    });
  }

  addRepo(options: AddRepoOptions): { owner: string; name: string; sha: string } {
    const key = repoKey(options.owner, options.name);
    if (this.#repos.has(key)) throw new Error(`repository ${options.owner}/${options.name} already exists in the double`);
    const installationId = options.installationId ?? this.installationId;
    if (!this.#installations.has(installationId)) this.addInstallation({ id: installationId });
    const now = isoSeconds(new Date());
    const defaultBranch = options.defaultBranch ?? "main";
    this.#repos.set(key, {
      id: this.#nextId.repo++,
      owner: options.owner,
      name: options.name,
      ownerType: options.ownerType ?? "Organization",
      private: options.private ?? false,
      fork: options.fork ?? false,
      defaultBranch,
      installationId,
      createdAt: now,
      pushedAt: now,
      branches: new Map(),
      tags: new Map(),
      commits: new Map(),
      issues: new Map(),
      pulls: new Map(),
      permissions: new Map(),
      tarballs: new Map(),
      nextIssueNumber: 1,
    });
    const sha = this.commit(options.owner, options.name, options.files ?? { "README.md": `# ${options.name}\n` }, {
      branch: defaultBranch,
      message: options.message ?? "Initial commit",
    });
    return { owner: options.owner, name: options.name, sha };
  }

  commit(owner: string, name: string, files: FileChanges, options: CommitOptions = {}): string {
    const repo = this.#repo(owner, name);
    const branch = options.branch ?? repo.defaultBranch;
    const parentSha =
      options.parent !== undefined
        ? this.resolveRef(owner, name, options.parent)
        : (repo.branches.get(branch) ?? repo.branches.get(repo.defaultBranch));
    const parent = parentSha === undefined ? undefined : repo.commits.get(parentSha);
    const tree = new Map(parent?.files ?? []);
    for (const [path, content] of Object.entries(files)) {
      const normalized = normalizeRepoPath(path);
      if (content === null) tree.delete(normalized);
      else tree.set(normalized, typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content));
    }
    // Strictly increasing commit times keep shas distinct even for identical trees made in one second.
    this.#lastCommitSeconds = Math.max(Math.floor(Date.now() / 1000), this.#lastCommitSeconds + 1);
    const author = options.author ?? { name: "Mona Lisa", email: "mona@example.com" };
    const message = options.message ?? "Update files";
    const { treeSha, objectShas } = hashTree(tree);
    const signature = `${author.name} <${author.email}> ${this.#lastCommitSeconds} +0000`;
    const text = [
      `tree ${treeSha}`,
      ...(parent === undefined ? [] : [`parent ${parent.sha}`]),
      `author ${signature}`,
      `committer ${signature}`,
      "",
      `${message}\n`,
    ].join("\n");
    const sha = gitObjectSha("commit", Buffer.from(text, "utf8"));
    repo.commits.set(sha, {
      sha,
      treeSha,
      files: tree,
      objectShas,
      parents: parent === undefined ? [] : [parent.sha],
      message,
      author: { ...author, date: isoSeconds(new Date(this.#lastCommitSeconds * 1000)) },
    });
    if (options.detached !== true) repo.branches.set(branch, sha);
    repo.pushedAt = isoSeconds(new Date());
    this.#notify();
    return sha;
  }

  createBranch(owner: string, name: string, branch: string, fromRef?: string): string {
    const repo = this.#repo(owner, name);
    const sha = this.resolveRef(owner, name, fromRef ?? repo.defaultBranch);
    repo.branches.set(branch, sha);
    return sha;
  }

  createTag(owner: string, name: string, tag: string, ref?: string): string {
    const repo = this.#repo(owner, name);
    const sha = this.resolveRef(owner, name, ref ?? repo.defaultBranch);
    repo.tags.set(tag, sha);
    return sha;
  }

  resolveRef(owner: string, name: string, ref: string): string {
    const commit = this.#findCommit(this.#repo(owner, name), ref);
    if (commit === undefined) throw new Error(`no commit for ref ${JSON.stringify(ref)} in ${owner}/${name}`);
    return commit.sha;
  }

  addIssue(options: AddIssueOptions): number {
    const number = this.#addIssue(options, false);
    this.#notify();
    return number;
  }

  addPullRequest(options: AddPullRequestOptions): number {
    const repo = this.#repo(options.owner, options.repo);
    const headSha = options.headSha ?? repo.branches.get(options.headRef);
    if (headSha === undefined || this.#findCommit(repo, headSha) === undefined) {
      throw new Error(
        `pull request head ${options.headSha ?? options.headRef} is not a commit of ${options.owner}/${options.repo}: create it with double.commit first`,
      );
    }
    const number = this.#addIssue(
      { owner: options.owner, repo: options.repo, number: options.number, title: options.title, body: options.body, user: options.user },
      true,
    );
    repo.pulls.set(number, {
      number,
      id: this.#nextId.pull++,
      headSha,
      headRef: options.headRef,
      baseRef: options.baseRef ?? repo.defaultBranch,
      headRepoFullName: options.headRepoFullName ?? `${repo.owner}/${repo.name}`,
      draft: options.draft ?? false,
    });
    this.#notify();
    return number;
  }

  pushToPullRequest(owner: string, name: string, number: number, sha: string): void {
    const repo = this.#repo(owner, name);
    const pull = repo.pulls.get(number);
    if (pull === undefined) throw new Error(`no pull request #${number} in ${owner}/${name}`);
    if (this.#findCommit(repo, sha) === undefined) throw new Error(`${sha} is not a commit of ${owner}/${name}: create it with double.commit first`);
    repo.pulls.set(number, { ...pull, headSha: sha });
    const issue = repo.issues.get(number);
    if (issue !== undefined) issue.updatedAt = isoSeconds(new Date());
    this.#notify();
  }

  addIssueComment(options: AddIssueCommentOptions): IssueComment {
    const repo = this.#repo(options.owner, options.repo);
    const issue = repo.issues.get(options.issueNumber);
    if (issue === undefined) throw new Error(`no issue #${options.issueNumber} in ${options.owner}/${options.repo}`);
    const comment = this.#createComment(repo, issue, options.body, options.user ?? "octocat", false, options.id);
    this.#notify();
    return comment;
  }

  setPermission(owner: string, repo: string, user: string, level: PermissionLevel): void {
    this.#repo(owner, repo).permissions.set(user.toLowerCase(), level);
  }

  renameUser(from: string, to: string): void {
    const [oldKey, newKey] = [from.toLowerCase(), to.toLowerCase()];
    this.#users.set(newKey, this.userId(from));
    this.#users.set(oldKey, this.#nextId.user++);
    for (const repo of this.#repos.values()) {
      const level = repo.permissions.get(oldKey);
      repo.permissions.delete(oldKey);
      if (level !== undefined) repo.permissions.set(newKey, level);
    }
    this.userTokens.forEach((token, i) => {
      if (token.login.toLowerCase() === oldKey) this.userTokens[i] = { ...token, login: to };
    });
    if (this.#oauthLogin?.toLowerCase() === oldKey) this.#oauthLogin = to;
  }

  expireTokens(): void {
    for (const token of this.installationTokens) this.#expiredTokens.add(token.token);
  }

  // ----- inspection ----------------------------------------------------------------------------------

  checkRun(id: number): CheckRun | undefined {
    return this.#checkRuns.get(id)?.data;
  }

  checkRunUpdates(id: number): readonly CheckRunUpdate[] {
    return this.#checkRuns.get(id)?.updates ?? [];
  }

  checkRunAnnotations(id: number): readonly CheckRunAnnotation[] {
    return this.#checkRuns.get(id)?.annotations ?? [];
  }

  commentHistory(id: number): readonly string[] {
    return this.#comments.get(id)?.history ?? [];
  }

  commentsOn(owner: string, repo: string, issueNumber: number): readonly IssueComment[] {
    const key = repoKey(owner, repo);
    return [...this.#comments.values()]
      .filter((c) => repoKey(c.owner, c.repo) === key && c.issueNumber === issueNumber)
      .map((c) => c.data);
  }

  failNext(matcher: RequestMatcher, fault: FaultOptions): void {
    this.#faults.push({ matcher, options: fault, remaining: fault.times ?? 1 });
  }

  waitFor<T>(predicate: (double: GitHubDouble) => T, options: WaitForOptions = {}): Promise<Exclude<T, undefined | null | false>> {
    type Found = Exclude<T, undefined | null | false>;
    const timeoutMs = options.timeoutMs ?? 20_000;
    return new Promise<Found>((resolve, reject) => {
      let lastError: unknown;
      const evaluate = (): { found: Found } | undefined => {
        try {
          const value = predicate(this);
          if (value !== undefined && value !== null && value !== false) return { found: value as Found };
        } catch (error) {
          lastError = error; // state may be half set up; keep waiting and report it on timeout
        }
        return undefined;
      };
      const first = evaluate();
      if (first !== undefined) {
        resolve(first.found);
        return;
      }
      const timer = setTimeout(() => {
        const what = options.description ?? predicate.toString().replace(/\s+/g, " ").slice(0, 200);
        const threw = lastError === undefined ? "" : `\nThe predicate last threw: ${String(lastError)}`;
        waiter.fail(new Error(`waitFor timed out after ${timeoutMs} ms waiting for: ${what}${threw}\n${this.#summary()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check: () => {
          const result = evaluate();
          if (result === undefined) return false;
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(result.found);
          return true;
        },
        fail: (error) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          reject(error);
        },
      };
      this.#waiters.add(waiter);
    });
  }

  assertNoViolations(): void {
    const problems = [...this.violations, ...this.selfCheckProblems.map((p) => `double self-check: ${p}`)];
    if (problems.length > 0) {
      throw new Error(`The GitHub double saw ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const waiter of [...this.#waiters]) waiter.fail(new Error("the GitHub double was closed while waiting"));
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections(); // keep-alive sockets from fetch would hold close() open
      await closed;
    })();
    return this.#closing;
  }

  // ----- HTTP ----------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", this.webUrl);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const text = await readBody(req);
    const { body, parseError } = parseJsonBody(text);
    const record: RecordedRequest = {
      method,
      path: url.pathname.startsWith("/api/v3/") ? url.pathname.slice("/api/v3".length) : url.pathname,
      route: undefined,
      query: Object.fromEntries(url.searchParams),
      body,
      headers,
      auth: "none",
      at: new Date(),
      status: 0,
    };
    this.requests.push(record);
    let reply: Reply;
    try {
      reply = this.#dispatch(method, url, record, parseError);
    } catch (error) {
      reply = this.#errorReply(method, record, error);
    }
    record.status = reply.status;
    this.#send(res, reply);
    this.#notify();
  }

  #dispatch(method: string, url: URL, record: RecordedRequest, parseError: boolean): Reply {
    // Not API routes: where the double redirects archive downloads and serves raw files, as GitHub
    // Enterprise does on its own host (`/_codeload/...`, `/raw/...`).
    const codeload = /^\/_codeload\/([^/]+)\/([^/]+)\/legacy\.tar\.gz\/(.+)$/.exec(url.pathname);
    if (method === "GET" && codeload !== null) {
      record.route = "(codeload)";
      const fault = this.#takeFault(record); // e.g. a test of a download that fails half-way
      if (fault !== undefined) return faultReply(fault, "https://docs.github.com/rest/repos/contents#download-a-repository-archive-tar");
      return this.#codeload(safeDecode(codeload[1] ?? ""), safeDecode(codeload[2] ?? ""), safeDecode(codeload[3] ?? ""));
    }
    const raw = /^\/raw\/([^/]+)\/([^/]+)\/([0-9a-f]{40})\/(.+)$/.exec(url.pathname);
    if (method === "GET" && raw !== null) {
      record.route = "(raw)";
      return this.#rawFile(safeDecode(raw[1] ?? ""), safeDecode(raw[2] ?? ""), raw[3] ?? "", safeDecode(raw[4] ?? ""));
    }
    // The OAuth web flow of "Sign in with GitHub" lives on the web host, outside the REST API.
    if (method === "GET" && (url.pathname === "/login/oauth/authorize" || url.pathname === "/login/oauth/authorize/approve")) {
      record.route = "(oauth authorize)";
      return this.#oauthAuthorize(record, url.searchParams, url.pathname.endsWith("/approve"));
    }
    if (method === "POST" && url.pathname === "/login/oauth/access_token") {
      record.route = "(oauth access_token)";
      return this.#oauthAccessToken(record, isRecord(record.body) ? record.body : Object.fromEntries(url.searchParams));
    }
    if (!url.pathname.startsWith("/api/v3/")) {
      throw new GitHubError(404, `not under the API base /api/v3 (did the app miss GHE_HOST/baseUrl?)`, true);
    }
    record.auth = describeActor(this.#actor(record.headers));
    const match = matchRoute(this.#index, method, record.path);
    if (match === undefined) {
      const others = methodsFor(this.#index, record.path);
      const why =
        others.length > 0
          ? `unknown route: GitHub serves ${record.path} only for ${others.join(", ")}`
          : "unknown route: not in GitHub's OpenAPI description";
      throw new GitHubError(404, why, true);
    }
    record.route = match.route.template;
    if (parseError) {
      throw new GitHubError(400, "Problems parsing JSON", true, { documentation_url: match.route.docsUrl });
    }
    const problems = validateRequest(match, url.searchParams, record.body);
    if (problems.length > 0) {
      for (const problem of problems) this.#violation(record, `[${match.route.operationId}] ${problem}`);
      return errorReply(422, `Invalid request.\n\n${problems.join("\n")}`, match.route.docsUrl);
    }
    const fault = this.#takeFault(record);
    if (fault !== undefined) return faultReply(fault, match.route.docsUrl);
    const key = `${method} ${match.route.template}`;
    const handler = HANDLERS.get(key);
    if (handler === undefined) throw new GitHubError(404, `unhandled route: the double does not serve ${key}`, true);
    const actor = this.#authorize(match.route.template, record.headers);
    const reply = handler(this, {
      params: match.params,
      query: url.searchParams,
      body: record.body,
      actor,
      headers: record.headers,
      url,
    });
    this.#selfCheck(match.route, record, reply);
    return reply;
  }

  #errorReply(method: string, record: RecordedRequest, error: unknown): Reply {
    if (!(error instanceof GitHubError)) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.#violation(record, `the double failed: ${message}`);
      return errorReply(500, "Server Error (the GitHub double threw; see violations)");
    }
    if (error.violation) this.#violation(record, error.message);
    const docs = typeof error.extra["documentation_url"] === "string" ? error.extra["documentation_url"] : undefined;
    if (error.status === 404) return errorReply(404, "Not Found", docs);
    if (error.status === 422 && error.violation) {
      return {
        status: 422,
        json: {
          message: "Validation Failed",
          errors: [{ resource: method, code: "custom", message: error.message }],
          documentation_url: docs ?? "https://docs.github.com/rest",
          status: "422",
        },
      };
    }
    return errorReply(error.status, error.message, docs);
  }

  #send(res: ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = {
      "x-github-request-id": randomBytes(8).toString("hex").toUpperCase(),
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "4999",
      "x-ratelimit-reset": String(Math.floor(Date.now() / 1000) + 3600),
      "x-ratelimit-used": "1",
      "x-ratelimit-resource": "core",
      ...reply.headers,
    };
    let payload: Buffer | string = "";
    if (reply.raw !== undefined) {
      headers["content-type"] = reply.raw.contentType;
      payload = reply.raw.body;
    } else if (reply.json !== undefined) {
      headers["content-type"] = "application/json; charset=utf-8";
      payload = JSON.stringify(reply.json);
    }
    headers["content-length"] = String(Buffer.byteLength(payload));
    res.writeHead(reply.status, headers);
    res.end(payload);
  }

  #violation(record: RecordedRequest, problem: string): void {
    const query = new URLSearchParams(record.query).toString();
    this.violations.push(`${record.method} ${record.path}${query === "" ? "" : `?${query}`}: ${problem}`);
  }

  #selfCheck(route: CompiledRoute, record: RecordedRequest, reply: Reply): void {
    if (this.#options.checkResponses === false || reply.json === undefined) return;
    const schema = route.responses.get(reply.status);
    if (schema === undefined) {
      this.selfCheckProblems.push(`${record.method} ${route.template}: status ${reply.status} has no JSON response in the description`);
      return;
    }
    const problems: string[] = [];
    validateSchema(schema, reply.json, "response:", problems);
    for (const problem of problems) this.selfCheckProblems.push(`${record.method} ${route.template} -> ${reply.status}: ${problem}`);
  }

  #takeFault(record: RecordedRequest): FaultOptions | undefined {
    const index = this.#faults.findIndex((fault) => fault.remaining > 0 && matches(fault.matcher, record));
    const fault = this.#faults[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.#faults.splice(index, 1);
    return fault.options;
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter.check();
  }

  #summary(): string {
    const last = this.requests.slice(-15).map((r) => `  ${r.method} ${r.path} -> ${r.status}`);
    const violations = this.violations.length === 0 ? "none" : this.violations.map((v) => `\n  - ${v}`).join("");
    return `Last requests (${this.requests.length} in all):\n${last.join("\n") || "  none"}\nViolations: ${violations}`;
  }

  // ----- auth ----------------------------------------------------------------------------------------

  #actor(headers: Readonly<Record<string, string>>): Actor {
    const header = headers["authorization"];
    if (header === undefined) return { kind: "none" };
    const credential = header.replace(/^(bearer|token)\s+/i, "");
    if (/^[\w-]+\.[\w-]+\.[\w-]*$/.test(credential)) return { kind: "app" };
    const token = this.installationTokens.find((t) => t.token === credential);
    if (token !== undefined) return { kind: "installation", token };
    if (credential.startsWith("ghs_")) return { kind: "unknown-token" };
    const userToken = this.userTokens.find((t) => t.token === credential);
    if (userToken !== undefined) return { kind: "user", login: userToken.login };
    return { kind: "user", login: this.#options.userLogin ?? "octocat" };
  }

  /** App routes take a JWT; everything else an installation (or user) token, as on GitHub. */
  #authorize(template: string, headers: Readonly<Record<string, string>>): Actor {
    const actor = this.#actor(headers);
    const appRoute = template === "/app" || template.startsWith("/app/") || template.endsWith("/installation");
    if (appRoute) {
      if (actor.kind !== "app") {
        throw new GitHubError(401, "A JSON web token could not be decoded (this route needs the app's JWT)", true);
      }
      const jwt = (headers["authorization"] ?? "").replace(/^(bearer|token)\s+/i, "");
      this.appJwts.push(jwt);
      const claims = decodeJwtClaims(jwt);
      if (claims === undefined) throw new GitHubError(401, "A JSON web token could not be decoded", true);
      if (String(claims["iss"]) !== String(this.appId)) {
        throw new GitHubError(401, `JWT iss ${JSON.stringify(claims["iss"])} is not this app's id ${this.appId}`, true);
      }
      return actor;
    }
    if (actor.kind === "app") {
      throw new GitHubError(403, "Resource not accessible by integration (an app JWT cannot call installation routes)", true);
    }
    if (actor.kind === "installation" && this.#expiredTokens.has(actor.token.token)) {
      throw new GitHubError(401, "Bad credentials (the installation token expired)", true);
    }
    if (actor.kind === "unknown-token") {
      throw new GitHubError(401, "Bad credentials (an installation token the double never issued)", true);
    }
    const credential = (headers["authorization"] ?? "").replace(/^(bearer|token)\s+/i, "");
    const userToken = this.userTokens.find((t) => t.token === credential);
    // An expired user token is the app's normal fate after 8 hours, not a bug: no violation.
    if (userToken !== undefined && userToken.expiresAt.getTime() <= Date.now()) throw new GitHubError(401, "Bad credentials", false);
    return actor;
  }

  /** GitHub answers 403 when an installation token lacks the permission a route needs. */
  requirePermission(actor: Actor, ...options: Array<readonly [string, "read" | "write"]>): void {
    if (actor.kind !== "installation") return;
    const granted = actor.token.permissions;
    const ok = options.some(([name, level]) => (PERMISSION_RANK[granted[name] ?? ""] ?? 0) >= (PERMISSION_RANK[level] ?? 9));
    if (!ok) {
      const wanted = options.map(([name, level]) => `${name}: ${level}`).join(" or ");
      throw new GitHubError(403, `Resource not accessible by integration (needs ${wanted})`, true);
    }
  }

  // ----- OAuth web flow ("Sign in with GitHub") ------------------------------------------------------
  // https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app

  /** The approval page: redirects back to `redirect_uri` with a code (or `error=access_denied`) and the `state` as given. */
  #oauthAuthorize(record: RecordedRequest, q: URLSearchParams, approved: boolean): Reply {
    const clientId = q.get("client_id") ?? "";
    const redirectUri = q.get("redirect_uri") ?? "";
    if (clientId !== this.clientId) {
      this.#violation(record, `client_id ${JSON.stringify(clientId)} is not this app's (${this.clientId})`);
      return { status: 404, raw: { body: "Not Found", contentType: "text/plain" } };
    }
    if (!/^https?:\/\//.test(redirectUri)) {
      this.#violation(record, "redirect_uri is missing or not an absolute http(s) URL");
      return { status: 400, raw: { body: "The redirect_uri MUST match the registered callback URL for this application.", contentType: "text/plain" } };
    }
    const method = q.get("code_challenge_method");
    const challenge = q.get("code_challenge") ?? undefined;
    if (challenge !== undefined && method !== "S256") this.#violation(record, `code_challenge_method must be S256, got ${JSON.stringify(method)}`);
    if (this.#options.oauthConsentPage === true && !approved) {
      const hidden = [...q.entries()].map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`).join("");
      const html = `<!doctype html><title>Authorize application</title><link rel="icon" href="data:,"><form method="get" action="/login/oauth/authorize/approve">${hidden}<button type="submit">Authorize ${escapeHtml(this.appSlug)}</button></form>`;
      return { status: 200, raw: { body: html, contentType: "text/html; charset=utf-8" } };
    }
    const back = new URL(redirectUri);
    const state = q.get("state");
    if (state !== null) back.searchParams.set("state", state);
    if (this.#oauthLogin === undefined) {
      back.searchParams.set("error", "access_denied");
      back.searchParams.set("error_description", "The user has denied your application access.");
    } else {
      const code = randomBytes(10).toString("hex");
      this.#oauthCodes.set(code, { login: this.#oauthLogin, redirectUri, challenge });
      back.searchParams.set("code", code);
    }
    return { status: 302, headers: { location: back.toString() } };
  }

  /**
   * Trades a code for a user token, once. Refusals are 200 with `{error, error_description}`, as on
   * GitHub; a wrong client secret or PKCE verifier is refused like a bad code.
   */
  #oauthAccessToken(record: RecordedRequest, body: Record<string, unknown>): Reply {
    const refuse = (error: string, description: string): Reply => ({ status: 200, json: { error, error_description: description } });
    const field = (name: string) => (typeof body[name] === "string" ? body[name] : "");
    if (field("client_id") !== this.clientId || field("client_secret") !== this.clientSecret) {
      return refuse("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.");
    }
    const grant = this.#oauthCodes.get(field("code"));
    if (grant === undefined) return refuse("bad_verification_code", "The code passed is incorrect or expired.");
    this.#oauthCodes.delete(field("code"));
    if (field("redirect_uri") !== "" && field("redirect_uri") !== grant.redirectUri) {
      return refuse("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.");
    }
    if (grant.challenge !== undefined) {
      const verifier = field("code_verifier");
      if (createHash("sha256").update(verifier).digest("base64url") !== grant.challenge) {
        return refuse("bad_verification_code", "The code_verifier does not match the code_challenge.");
      }
    }
    const seconds = this.#options.userTokenExpiresInSeconds ?? 28_800;
    const token: UserAccessToken = { token: `ghu_${randomBytes(18).toString("hex")}`, login: grant.login, expiresAt: new Date(Date.now() + seconds * 1000) };
    this.userTokens.push(token);
    record.auth = `user:${grant.login}`;
    return {
      status: 200,
      json: {
        access_token: token.token,
        expires_in: seconds,
        refresh_token: `ghr_${randomBytes(30).toString("hex")}`,
        refresh_token_expires_in: 15_897_600,
        scope: "",
        token_type: "bearer",
      },
    };
  }

  // ----- lookups used by handlers --------------------------------------------------------------------

  #repo(owner: string, name: string): RepoState {
    const repo = this.#repos.get(repoKey(owner, name));
    if (repo === undefined) throw new Error(`no repository ${owner}/${name} in the double: call addRepo first`);
    return repo;
  }

  findRepo(owner: string, name: string): RepoState {
    const repo = this.#repos.get(repoKey(owner, name));
    if (repo === undefined) throw notFound();
    return repo;
  }

  reposOfInstallation(id: number): RepoState[] {
    return [...this.#repos.values()].filter((repo) => repo.installationId === id);
  }

  installation(id: number): InstallationState | undefined {
    return this.#installations.get(id);
  }

  /** Branch, tag, `refs/heads|tags/...`, `refs/pull/N/head`, full or abbreviated (7+) sha. */
  #findCommit(repo: RepoState, ref: string): GitCommit | undefined {
    const bare = ref.replace(/^refs\//, "");
    const pull = /^pull\/(\d+)\/head$/.exec(bare);
    let sha: string | undefined;
    if (pull !== null) sha = repo.pulls.get(Number(pull[1]))?.headSha;
    else if (bare.startsWith("heads/")) sha = repo.branches.get(bare.slice("heads/".length));
    else if (bare.startsWith("tags/")) sha = repo.tags.get(bare.slice("tags/".length));
    else sha = repo.branches.get(ref) ?? repo.tags.get(ref);
    if (sha === undefined && /^[0-9a-f]{7,40}$/i.test(ref)) {
      const lower = ref.toLowerCase();
      const candidates = [...repo.commits.keys()].filter((s) => s.startsWith(lower));
      if (candidates.length === 1) sha = candidates[0];
    }
    return sha === undefined ? undefined : repo.commits.get(sha);
  }

  findCommit(repo: RepoState, ref: string): GitCommit {
    const commit = this.#findCommit(repo, ref);
    if (commit === undefined) throw notFound();
    return commit;
  }

  /**
   * For commit-addressed routes GitHub answers 422 "No commit found for SHA" rather than 404. Writing
   * to an unknown sha (`violation`) is an app bug; reading one may be a legitimate probe.
   */
  findCommitOr422(repo: RepoState, ref: string, violation: boolean): GitCommit {
    const commit = this.#findCommit(repo, ref);
    if (commit === undefined) throw new GitHubError(422, `No commit found for SHA: ${ref}`, violation);
    return commit;
  }

  // ----- GitHub-shaped objects -----------------------------------------------------------------------

  userId(login: string): number {
    const key = login.toLowerCase();
    return this.#users.get(key) ?? userIdOf(key);
  }

  user(login: string, type?: string): SimpleUser {
    const id = this.userId(login);
    const kind = type ?? (login.endsWith("[bot]") ? "Bot" : "User");
    const api = `${this.url}/users/${encodeURIComponent(login)}`;
    return {
      login,
      id,
      node_id: nodeId(kind, id),
      avatar_url: `${this.webUrl}/avatars/u/${id}?v=4`,
      gravatar_id: "",
      url: api,
      html_url: kind === "Bot" ? `${this.webUrl}/apps/${login.replace(/\[bot\]$/, "")}` : `${this.webUrl}/${login}`,
      followers_url: `${api}/followers`,
      following_url: `${api}/following{/other_user}`,
      gists_url: `${api}/gists{/gist_id}`,
      starred_url: `${api}/starred{/owner}{/repo}`,
      subscriptions_url: `${api}/subscriptions`,
      organizations_url: `${api}/orgs`,
      repos_url: `${api}/repos`,
      events_url: `${api}/events{/privacy}`,
      received_events_url: `${api}/received_events`,
      type: kind,
      user_view_type: "public",
      site_admin: false,
    };
  }

  /** The signed-in user as `GET /user` describes them to themselves. */
  privateUser(login: string): Record<string, unknown> {
    return {
      ...this.user(login),
      name: login,
      company: null,
      blog: "",
      location: null,
      email: null,
      hireable: null,
      bio: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: this.#startedAt,
      updated_at: this.#startedAt,
      private_gists: 0,
      total_private_repos: 0,
      owned_private_repos: 0,
      disk_usage: 0,
      collaborators: 0,
      two_factor_authentication: true,
    };
  }

  actorLogin(actor: Actor): string {
    switch (actor.kind) {
      case "installation":
        return `${this.appSlug}[bot]`;
      case "user":
        return actor.login;
      case "app":
      case "unknown-token":
      case "none":
        return "ghost";
      default: {
        const never: never = actor;
        return never;
      }
    }
  }

  app(): Record<string, unknown> {
    const owner = this.#installations.get(this.installationId)?.account ?? "octo-org";
    return {
      id: this.appId,
      slug: this.appSlug,
      client_id: `Iv1.${this.appId.toString(16).padStart(16, "0")}`,
      node_id: nodeId("Integration", this.appId),
      owner: this.user(owner, "Organization"),
      name: this.appSlug,
      description: "The app under test",
      external_url: `${this.webUrl}/apps/${this.appSlug}`,
      html_url: `${this.webUrl}/apps/${this.appSlug}`,
      created_at: this.#startedAt,
      updated_at: this.#startedAt,
      permissions: { ...DEFAULT_PERMISSIONS },
      events: ["check_run", "issue_comment", "pull_request", "push", "create"],
      installations_count: this.#installations.size,
    };
  }

  installationObject(installation: InstallationState): Record<string, unknown> {
    const account = installation.account ?? this.reposOfInstallation(installation.id)[0]?.owner ?? "octo-org";
    const accountType = this.reposOfInstallation(installation.id)[0]?.ownerType ?? "Organization";
    return {
      id: installation.id,
      account: this.user(account, accountType),
      repository_selection: "all",
      access_tokens_url: `${this.url}/app/installations/${installation.id}/access_tokens`,
      repositories_url: `${this.url}/installation/repositories`,
      html_url: `${this.webUrl}/organizations/${account}/settings/installations/${installation.id}`,
      app_id: this.appId,
      app_slug: this.appSlug,
      target_id: this.userId(account),
      target_type: accountType,
      permissions: { ...installation.permissions },
      events: ["check_run", "issue_comment", "pull_request", "push", "create"],
      created_at: installation.createdAt,
      updated_at: installation.createdAt,
      single_file_name: null,
      has_multiple_single_files: false,
      single_file_paths: [],
      suspended_by: null,
      suspended_at: null,
    };
  }

  repoObject(repo: RepoState): Record<string, unknown> {
    return this.#repoObject({
      id: repo.id,
      owner: repo.owner,
      name: repo.name,
      ownerType: repo.ownerType,
      private: repo.private,
      fork: repo.fork,
      defaultBranch: repo.defaultBranch,
      createdAt: repo.createdAt,
      pushedAt: repo.pushedAt,
      openIssues: repo.issues.size,
    });
  }

  /** The head repository of a pull request: the base repository, a fork added to the double, or a made-up fork. */
  headRepoObject(base: RepoState, fullName: string): Record<string, unknown> {
    if (fullName.toLowerCase() === repoKey(base.owner, base.name)) return this.repoObject(base);
    const [owner = "", name = ""] = fullName.split("/");
    const known = this.#repos.get(repoKey(owner, name));
    if (known !== undefined) return { ...this.repoObject(known), fork: true };
    return this.#repoObject({
      id: 900_000 + this.userId(fullName),
      owner,
      name,
      ownerType: "User",
      private: base.private,
      fork: true,
      defaultBranch: base.defaultBranch,
      createdAt: base.createdAt,
      pushedAt: base.pushedAt,
      openIssues: 0,
    });
  }

  #repoObject(r: {
    id: number;
    owner: string;
    name: string;
    ownerType: string;
    private: boolean;
    fork: boolean;
    defaultBranch: string;
    createdAt: string;
    pushedAt: string;
    openIssues: number;
  }): Record<string, unknown> {
    const fullName = `${r.owner}/${r.name}`;
    const api = `${this.url}/repos/${fullName}`;
    const html = `${this.webUrl}/${fullName}`;
    return {
      id: r.id,
      node_id: nodeId("Repository", r.id),
      name: r.name,
      full_name: fullName,
      private: r.private,
      owner: this.user(r.owner, r.ownerType),
      html_url: html,
      description: null,
      fork: r.fork,
      url: api,
      archive_url: `${api}/{archive_format}{/ref}`,
      assignees_url: `${api}/assignees{/user}`,
      blobs_url: `${api}/git/blobs{/sha}`,
      branches_url: `${api}/branches{/branch}`,
      collaborators_url: `${api}/collaborators{/collaborator}`,
      comments_url: `${api}/comments{/number}`,
      commits_url: `${api}/commits{/sha}`,
      compare_url: `${api}/compare/{base}...{head}`,
      contents_url: `${api}/contents/{+path}`,
      contributors_url: `${api}/contributors`,
      deployments_url: `${api}/deployments`,
      downloads_url: `${api}/downloads`,
      events_url: `${api}/events`,
      forks_url: `${api}/forks`,
      git_commits_url: `${api}/git/commits{/sha}`,
      git_refs_url: `${api}/git/refs{/sha}`,
      git_tags_url: `${api}/git/tags{/sha}`,
      git_url: `git://${this.host}/${fullName}.git`,
      issue_comment_url: `${api}/issues/comments{/number}`,
      issue_events_url: `${api}/issues/events{/number}`,
      issues_url: `${api}/issues{/number}`,
      keys_url: `${api}/keys{/key_id}`,
      labels_url: `${api}/labels{/name}`,
      languages_url: `${api}/languages`,
      merges_url: `${api}/merges`,
      milestones_url: `${api}/milestones{/number}`,
      notifications_url: `${api}/notifications{?since,all,participating}`,
      pulls_url: `${api}/pulls{/number}`,
      releases_url: `${api}/releases{/id}`,
      ssh_url: `git@127.0.0.1:${fullName}.git`,
      stargazers_url: `${api}/stargazers`,
      statuses_url: `${api}/statuses/{sha}`,
      subscribers_url: `${api}/subscribers`,
      subscription_url: `${api}/subscription`,
      tags_url: `${api}/tags`,
      teams_url: `${api}/teams`,
      trees_url: `${api}/git/trees{/sha}`,
      clone_url: `${html}.git`,
      mirror_url: null,
      hooks_url: `${api}/hooks`,
      svn_url: html,
      homepage: null,
      language: null,
      forks_count: 0,
      forks: 0,
      stargazers_count: 0,
      watchers_count: 0,
      watchers: 0,
      size: 0,
      default_branch: r.defaultBranch,
      open_issues_count: r.openIssues,
      open_issues: r.openIssues,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: true,
      has_wiki: true,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: r.private ? "private" : "public",
      pushed_at: r.pushedAt,
      created_at: r.createdAt,
      updated_at: r.pushedAt,
      allow_forking: true,
      web_commit_signoff_required: false,
      license: null,
      network_count: 0,
      subscribers_count: 0,
    };
  }

  commitObject(repo: RepoState, commit: GitCommit, withFiles: boolean): Record<string, unknown> {
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`;
    const html = `${this.webUrl}/${repo.owner}/${repo.name}`;
    const gitUser = { name: commit.author.name, email: commit.author.email, date: commit.author.date };
    const object: Record<string, unknown> = {
      sha: commit.sha,
      node_id: Buffer.from(`04:Commit${repo.id}:${commit.sha}`).toString("base64"),
      commit: {
        author: gitUser,
        committer: gitUser,
        message: commit.message,
        tree: { sha: commit.treeSha, url: `${api}/git/trees/${commit.treeSha}` },
        url: `${api}/git/commits/${commit.sha}`,
        comment_count: 0,
        verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
      },
      url: `${api}/commits/${commit.sha}`,
      html_url: `${html}/commit/${commit.sha}`,
      comments_url: `${api}/commits/${commit.sha}/comments`,
      // The author's email matches no GitHub account here, so GitHub gives null (an empty object in some versions).
      author: null,
      committer: null,
      parents: commit.parents.map((sha) => ({ sha, url: `${api}/commits/${sha}`, html_url: `${html}/commit/${sha}` })),
    };
    if (withFiles) {
      const parent = commit.parents[0] === undefined ? undefined : repo.commits.get(commit.parents[0]);
      const files = changedFiles(parent, commit).map(({ path, status }) => ({
        sha: commit.objectShas.get(path) ?? parent?.objectShas.get(path) ?? null,
        filename: path,
        status,
        // Line counts are not computed; apps here read only names and statuses.
        additions: 0,
        deletions: 0,
        changes: 0,
        blob_url: `${html}/blob/${commit.sha}/${path}`,
        raw_url: `${html}/raw/${commit.sha}/${path}`,
        contents_url: `${api}/contents/${path}?ref=${commit.sha}`,
      }));
      object["stats"] = { total: 0, additions: 0, deletions: 0 };
      object["files"] = files;
    }
    return object;
  }

  pullRequestObject(repo: RepoState, pull: PullState): Record<string, unknown> {
    const issue = repo.issues.get(pull.number);
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`;
    const html = `${this.webUrl}/${repo.owner}/${repo.name}/pull/${pull.number}`;
    const author = issue?.user ?? "octocat";
    const [headOwner = repo.owner] = pull.headRepoFullName.split("/");
    const baseSha = repo.branches.get(pull.baseRef) ?? "";
    const link = (href: string): { href: string } => ({ href });
    return {
      url: `${api}/pulls/${pull.number}`,
      id: pull.id,
      node_id: nodeId("PullRequest", pull.id),
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: `${api}/issues/${pull.number}`,
      commits_url: `${api}/pulls/${pull.number}/commits`,
      review_comments_url: `${api}/pulls/${pull.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`,
      comments_url: `${api}/issues/${pull.number}/comments`,
      statuses_url: `${api}/statuses/${pull.headSha}`,
      number: pull.number,
      state: "open",
      locked: false,
      title: issue?.title ?? `Pull request #${pull.number}`,
      user: this.user(author),
      body: issue?.body ?? null,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: issue?.createdAt ?? this.#startedAt,
      updated_at: issue?.updatedAt ?? this.#startedAt,
      closed_at: null,
      merged_at: null,
      merge_commit_sha: null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${headOwner}:${pull.headRef}`,
        ref: pull.headRef,
        sha: pull.headSha,
        user: this.user(headOwner),
        repo: this.headRepoObject(repo, pull.headRepoFullName),
      },
      base: {
        label: `${repo.owner}:${pull.baseRef}`,
        ref: pull.baseRef,
        sha: baseSha,
        user: this.user(repo.owner, repo.ownerType),
        repo: this.repoObject(repo),
      },
      _links: {
        self: link(`${api}/pulls/${pull.number}`),
        html: link(html),
        issue: link(`${api}/issues/${pull.number}`),
        comments: link(`${api}/issues/${pull.number}/comments`),
        review_comments: link(`${api}/pulls/${pull.number}/comments`),
        review_comment: link(`${api}/pulls/comments{/number}`),
        commits: link(`${api}/pulls/${pull.number}/commits`),
        statuses: link(`${api}/statuses/${pull.headSha}`),
      },
      author_association: this.association(repo, author),
      auto_merge: null,
      draft: pull.draft,
      merged: false,
      mergeable: true,
      rebaseable: true,
      mergeable_state: "clean",
      merged_by: null,
      comments: this.commentsOn(repo.owner, repo.name, pull.number).length,
      review_comments: 0,
      maintainer_can_modify: false,
      commits: 1,
      additions: 0,
      deletions: 0,
      changed_files: 0,
    };
  }

  issueObject(repo: RepoState, issue: IssueState): Record<string, unknown> {
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`;
    const kind = issue.isPullRequest ? "pull" : "issues";
    const html = `${this.webUrl}/${repo.owner}/${repo.name}/${kind}/${issue.number}`;
    const object: Record<string, unknown> = {
      id: issue.id,
      node_id: nodeId(issue.isPullRequest ? "PullRequest" : "Issue", issue.id),
      url: `${api}/issues/${issue.number}`,
      repository_url: api,
      labels_url: `${api}/issues/${issue.number}/labels{/name}`,
      comments_url: `${api}/issues/${issue.number}/comments`,
      events_url: `${api}/issues/${issue.number}/events`,
      html_url: html,
      number: issue.number,
      state: "open",
      state_reason: null,
      title: issue.title,
      body: issue.body,
      user: this.user(issue.user),
      labels: [],
      assignee: null,
      assignees: [],
      milestone: null,
      locked: false,
      active_lock_reason: null,
      comments: this.commentsOn(repo.owner, repo.name, issue.number).length,
      closed_at: null,
      created_at: issue.createdAt,
      updated_at: issue.updatedAt,
      closed_by: null,
      author_association: this.association(repo, issue.user),
    };
    if (issue.isPullRequest) {
      object["pull_request"] = {
        url: `${api}/pulls/${issue.number}`,
        html_url: html,
        diff_url: `${html}.diff`,
        patch_url: `${html}.patch`,
        merged_at: null,
      };
    }
    return object;
  }

  /** `author_association` from the permission set in the double (GitHub's rule of thumb). */
  association(repo: RepoState, login: string): string {
    if (login.toLowerCase() === repo.owner.toLowerCase()) return "OWNER";
    const level = repo.permissions.get(login.toLowerCase());
    if (level === undefined || level === "none") return "NONE";
    return repo.ownerType === "Organization" && (level === "admin" || level === "maintain") ? "MEMBER" : "COLLABORATOR";
  }

  permissionLevel(repo: RepoState, login: string): PermissionLevel {
    // GitHub reports non-collaborators of a public repository as "read" (everyone may read it) and of
    // a private one as "none"; accounts that do not exist get 404 (inject with failNext if needed).
    // https://github.com/aws-ia/cloudformation-github-resource-providers/pull/14 saw "read" for everyone.
    if (login.toLowerCase() === repo.owner.toLowerCase() && repo.ownerType === "User") return "admin";
    return repo.permissions.get(login.toLowerCase()) ?? (repo.private ? "none" : "read");
  }

  // ----- check runs, comments, reactions --------------------------------------------------------------

  checkSuiteId(repo: RepoState, headSha: string): number {
    const key = `${repoKey(repo.owner, repo.name)}@${headSha}`;
    let id = this.#checkSuites.get(key);
    if (id === undefined) {
      id = this.#nextId.suite++;
      this.#checkSuites.set(key, id);
    }
    return id;
  }

  /** `pull_requests` of a check run: open pull requests of the same repository whose head is the sha. */
  minimalPulls(repo: RepoState, headSha: string): unknown[] {
    const minimalRepo = { id: repo.id, url: `${this.url}/repos/${repo.owner}/${repo.name}`, name: repo.name };
    return [...repo.pulls.values()]
      // GitHub leaves pull requests from forks out of this list.
      .filter((pull) => pull.headSha === headSha && pull.headRepoFullName.toLowerCase() === repoKey(repo.owner, repo.name))
      .map((pull) => ({
        id: pull.id,
        number: pull.number,
        url: `${this.url}/repos/${repo.owner}/${repo.name}/pulls/${pull.number}`,
        head: { ref: pull.headRef, sha: pull.headSha, repo: minimalRepo },
        base: { ref: pull.baseRef, sha: repo.branches.get(pull.baseRef) ?? "", repo: minimalRepo },
      }));
  }

  newCheckRun(repo: RepoState, data: Omit<CheckRun, "id" | "node_id" | "url" | "html_url" | "output" | "check_suite" | "app" | "pull_requests" | "details_url"> & { details_url: string | undefined }): CheckRunState {
    const id = this.#nextId.checkRun++;
    const url = `${this.url}/repos/${repo.owner}/${repo.name}/check-runs/${id}`;
    const state: CheckRunState = {
      owner: repo.owner,
      repo: repo.name,
      data: {
        id,
        node_id: nodeId("CheckRun", id),
        head_sha: data.head_sha,
        name: data.name,
        url,
        html_url: `${this.webUrl}/${repo.owner}/${repo.name}/runs/${id}`,
        // Without details_url GitHub links to the app's page.
        details_url: data.details_url ?? `${this.webUrl}/apps/${this.appSlug}`,
        status: data.status,
        conclusion: data.conclusion,
        started_at: data.started_at,
        completed_at: data.completed_at,
        external_id: data.external_id,
        output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: `${url}/annotations` },
        check_suite: { id: this.checkSuiteId(repo, data.head_sha) },
        app: this.app(),
        pull_requests: this.minimalPulls(repo, data.head_sha),
      },
      annotations: [],
      updates: [],
    };
    this.#checkRuns.set(id, state);
    return state;
  }

  checkRunState(repo: RepoState, id: number): CheckRunState {
    const state = this.#checkRuns.get(id);
    if (state === undefined || repoKey(state.owner, state.repo) !== repoKey(repo.owner, repo.name)) throw notFound();
    return state;
  }

  allCheckRunStates(repo: RepoState): CheckRunState[] {
    const key = repoKey(repo.owner, repo.name);
    return [...this.#checkRuns.values()].filter((state) => repoKey(state.owner, state.repo) === key);
  }

  #addIssue(options: AddIssueOptions, isPullRequest: boolean): number {
    const repo = this.#repo(options.owner, options.repo);
    const number = options.number ?? repo.nextIssueNumber;
    if (repo.issues.has(number)) throw new Error(`issue #${number} already exists in ${options.owner}/${options.repo}`);
    repo.nextIssueNumber = Math.max(repo.nextIssueNumber, number + 1);
    repo.issues.set(number, {
      number,
      id: this.#nextId.issue++,
      title: options.title ?? (isPullRequest ? `Pull request #${number}` : `Issue #${number}`),
      body: options.body ?? "",
      user: options.user ?? "octocat",
      createdAt: isoSeconds(new Date()),
      updatedAt: isoSeconds(new Date()),
      isPullRequest,
    });
    return number;
  }

  findIssue(repo: RepoState, number: number): IssueState {
    const issue = repo.issues.get(number);
    if (issue === undefined) throw notFound();
    return issue;
  }

  #createComment(repo: RepoState, issue: IssueState, body: string, login: string, viaApp: boolean, id?: number): IssueComment {
    const commentId = id ?? this.#nextId.comment++;
    if (this.#comments.has(commentId)) throw new Error(`comment ${commentId} already exists in the double`);
    const api = `${this.url}/repos/${repo.owner}/${repo.name}`;
    const now = isoSeconds(new Date());
    const kind = issue.isPullRequest ? "pull" : "issues";
    const data: IssueComment = {
      id: commentId,
      node_id: nodeId("IssueComment", commentId),
      url: `${api}/issues/comments/${commentId}`,
      html_url: `${this.webUrl}/${repo.owner}/${repo.name}/${kind}/${issue.number}#issuecomment-${commentId}`,
      issue_url: `${api}/issues/${issue.number}`,
      body,
      user: this.user(login),
      created_at: now,
      updated_at: now,
      author_association: viaApp ? "NONE" : this.association(repo, login),
      performed_via_github_app: viaApp ? this.app() : null,
      reactions: {
        url: `${api}/issues/comments/${commentId}/reactions`,
        total_count: 0,
        ...Object.fromEntries(REACTIONS.map((r) => [r, 0])),
      },
    };
    this.#comments.set(commentId, { owner: repo.owner, repo: repo.name, issueNumber: issue.number, data, history: [body] });
    issue.updatedAt = now;
    return data;
  }

  createComment(repo: RepoState, issue: IssueState, body: string, actor: Actor): IssueComment {
    return this.#createComment(repo, issue, body, this.actorLogin(actor), actor.kind === "installation");
  }

  commentState(repo: RepoState, id: number): CommentState {
    const state = this.#comments.get(id);
    if (state === undefined || repoKey(state.owner, state.repo) !== repoKey(repo.owner, repo.name)) throw notFound();
    return state;
  }

  addReaction(repo: RepoState, comment: CommentState, content: string, actor: Actor): { reaction: Record<string, unknown>; created: boolean } {
    const login = this.actorLogin(actor);
    const existing = this.#reactions.find(
      (r) => r.commentId === comment.data.id && r.content === content && r.user.toLowerCase() === login.toLowerCase(),
    );
    const record: ReactionRecord = existing ?? {
      owner: repo.owner,
      repo: repo.name,
      commentId: comment.data.id,
      content,
      user: login,
      id: this.#nextId.reaction++,
      at: new Date(),
    };
    if (existing === undefined) {
      this.#reactions.push(record);
      const counts = comment.data.reactions;
      counts[content] = Number(counts[content] ?? 0) + 1;
      counts["total_count"] = Number(counts["total_count"] ?? 0) + 1;
    }
    return {
      created: existing === undefined,
      reaction: {
        id: record.id,
        node_id: nodeId("Reaction", record.id),
        user: this.user(login),
        content,
        created_at: isoSeconds(record.at),
      },
    };
  }

  // ----- archives --------------------------------------------------------------------------------------

  #codeload(owner: string, name: string, ref: string): Reply {
    const repo = this.findRepo(owner, name);
    const commit = this.findCommit(repo, ref);
    const prefix = `${repo.owner}-${repo.name}-${commit.sha.slice(0, 7)}`;
    let tarball = repo.tarballs.get(commit.sha);
    if (tarball === undefined) {
      tarball = buildTarball(prefix, commit);
      repo.tarballs.set(commit.sha, tarball);
    }
    return {
      status: 200,
      raw: { body: tarball, contentType: "application/x-gzip" },
      headers: { "content-disposition": `attachment; filename=${prefix}.tar.gz`, etag: `"${commit.sha}"` },
    };
  }

  #rawFile(owner: string, name: string, sha: string, path: string): Reply {
    const commit = this.findCommit(this.findRepo(owner, name), sha);
    const content = commit.files.get(path);
    if (content === undefined) throw notFound();
    return { status: 200, raw: { body: content, contentType: "text/plain; charset=utf-8" } };
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function describeActor(actor: Actor): string {
  switch (actor.kind) {
    case "app":
      return "app";
    case "installation":
      return `installation:${actor.token.installationId}`;
    case "user":
      return `user:${actor.login}`;
    case "unknown-token":
      return "unknown-token";
    case "none":
      return "none";
    default: {
      const never: never = actor;
      return never;
    }
  }
}

function decodeJwtClaims(jwt: string): Record<string, unknown> | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8"));
    return isRecord(claims) ? claims : undefined;
  } catch {
    return undefined; // not JSON: GitHub answers 401, as the caller does
  }
}

function matches(matcher: RequestMatcher, request: RecordedRequest): boolean {
  if (typeof matcher === "function") return matcher(request);
  const concrete = `${request.method} ${request.path}`;
  if (matcher instanceof RegExp) return matcher.test(concrete);
  const candidates = [concrete, request.path];
  if (request.route !== undefined) candidates.push(`${request.method} ${request.route}`, request.route);
  return candidates.includes(matcher);
}

function faultReply(fault: FaultOptions, documentationUrl: string): Reply {
  return {
    status: fault.status,
    headers: fault.headers,
    json: fault.body ?? { message: `Injected failure (${fault.status})`, documentation_url: documentationUrl, status: String(fault.status) },
  };
}

function errorReply(status: number, message: string, documentationUrl = "https://docs.github.com/rest"): Reply {
  return { status, json: { message, documentation_url: documentationUrl, status: String(status) } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

function parseJsonBody(text: string): { body: unknown; parseError: boolean } {
  if (text.trim() === "") return { body: undefined, parseError: false };
  try {
    return { body: JSON.parse(text) as unknown, parseError: false };
  } catch {
    return { body: text, parseError: true }; // GitHub answers 400 "Problems parsing JSON"
  }
}

function changedFiles(parent: GitCommit | undefined, commit: GitCommit): Array<{ path: string; status: string }> {
  const changes: Array<{ path: string; status: string }> = [];
  for (const [path, sha] of commit.objectShas) {
    if (!commit.files.has(path)) continue; // directories
    const before = parent?.files.has(path) === true ? parent.objectShas.get(path) : undefined;
    if (before === undefined) changes.push({ path, status: "added" });
    else if (before !== sha) changes.push({ path, status: "modified" });
  }
  for (const path of parent?.files.keys() ?? []) {
    if (!commit.files.has(path)) changes.push({ path, status: "removed" });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Page a list as GitHub does (`per_page` up to 100, default 30) with a `Link` header for octokit.paginate. */
function paginate<T>(items: readonly T[], ctx: HandlerContext): { page: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get("per_page") ?? 30)));
  const page = Math.max(1, Number(ctx.query.get("page") ?? 1));
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const linkTo = (n: number): string => {
    const url = new URL(ctx.url);
    url.searchParams.set("per_page", String(perPage));
    url.searchParams.set("page", String(n));
    return url.toString();
  };
  const links: string[] = [];
  if (page < last) links.push(`<${linkTo(page + 1)}>; rel="next"`, `<${linkTo(last)}>; rel="last"`);
  if (page > 1) links.push(`<${linkTo(1)}>; rel="first"`, `<${linkTo(page - 1)}>; rel="prev"`);
  return { page: items.slice((page - 1) * perPage, page * perPage), headers: links.length > 0 ? { link: links.join(", ") } : {} };
}

// ---------------------------------------------------------------------------------------------------
// Route handlers: "METHOD template" -> handler (templates exactly as in the OpenAPI description)
// ---------------------------------------------------------------------------------------------------

type Handler = (double: GitHubDoubleServer, ctx: HandlerContext) => Reply;

/** The validated body as an object (the schema guarantees it for these routes). */
function bodyOf(ctx: HandlerContext): Record<string, unknown> {
  return isRecord(ctx.body) ? ctx.body : {};
}

function stringField(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === "string" ? value : undefined;
}

function repoOf(double: GitHubDoubleServer, ctx: HandlerContext): RepoState {
  return double.findRepo(ctx.params["owner"] ?? "", ctx.params["repo"] ?? "");
}

function numberParam(ctx: HandlerContext, name: string): number {
  return Number(ctx.params[name]);
}

const HANDLERS = new Map<string, Handler>([
  ["GET /app", (double) => ({ status: 200, json: double.app() })],

  [
    "GET /user",
    (double, ctx) => {
      if (ctx.actor.kind !== "user") throw new GitHubError(403, "Resource not accessible by integration (GET /user needs a user token)", true);
      return { status: 200, json: double.privateUser(ctx.actor.login) };
    },
  ],

  [
    "GET /app/installations/{installation_id}",
    (double, ctx) => {
      const installation = double.installation(numberParam(ctx, "installation_id"));
      if (installation === undefined) throw notFound();
      return { status: 200, json: double.installationObject(installation) };
    },
  ],

  [
    "POST /app/installations/{installation_id}/access_tokens",
    (double, ctx) => {
      const installation = double.installation(numberParam(ctx, "installation_id"));
      if (installation === undefined) throw notFound();
      const body = bodyOf(ctx);
      // A token may be narrowed to fewer permissions, never widened.
      const requested = isRecord(body["permissions"]) ? body["permissions"] : undefined;
      const permissions: Record<string, "read" | "write" | "admin"> = {};
      for (const [name, level] of Object.entries(requested ?? installation.permissions)) {
        const granted = installation.permissions[name];
        if ((PERMISSION_RANK[String(level)] ?? 9) > (PERMISSION_RANK[granted ?? ""] ?? 0)) {
          throw rejected(`The permissions requested are not granted to this installation (${name}: ${String(level)}).`);
        }
        permissions[name] = level === "admin" ? "admin" : level === "write" ? "write" : "read";
      }
      const repos = double.reposOfInstallation(installation.id);
      const names = Array.isArray(body["repositories"]) ? body["repositories"].map(String) : undefined;
      const ids = Array.isArray(body["repository_ids"]) ? body["repository_ids"].map(Number) : undefined;
      let selected: RepoState[] | undefined;
      if (names !== undefined || ids !== undefined) {
        selected = repos.filter((r) => names?.includes(r.name) === true || ids?.includes(r.id) === true);
        if (selected.length !== (names?.length ?? 0) + (ids?.length ?? 0)) {
          throw rejected("There is at least one repository that does not exist or is not accessible to the parent installation.");
        }
      }
      const expiresAt = new Date(Date.now() + 3600_000);
      const token: InstallationToken = {
        token: `ghs_${randomBytes(18).toString("hex")}`,
        installationId: installation.id,
        expiresAt,
        permissions,
        repositories: selected?.map((r) => r.name),
      };
      double.installationTokens.push(token);
      const json: Record<string, unknown> = {
        token: token.token,
        expires_at: isoSeconds(expiresAt),
        permissions,
        repository_selection: selected === undefined ? "all" : "selected",
      };
      if (selected !== undefined) json["repositories"] = selected.map((r) => double.repoObject(r));
      return { status: 201, json };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/installation",
    (double, ctx) => {
      const repo = repoOf(double, ctx);
      const installation = double.installation(repo.installationId);
      if (installation === undefined) throw notFound();
      return { status: 200, json: double.installationObject(installation) };
    },
  ],

  [
    "GET /repos/{owner}/{repo}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["metadata", "read"]);
      const repo = repoOf(double, ctx);
      // An installation sees its own repositories and public ones: another account's private one is 404.
      if (ctx.actor.kind === "installation" && repo.private && repo.installationId !== ctx.actor.token.installationId) throw notFound();
      if (ctx.actor.kind !== "user") return { status: 200, json: double.repoObject(repo) };
      // With a user's token GitHub answers with that user's `permissions`, and 404 for a private
      // repository they cannot see.
      const level = double.permissionLevel(repo, ctx.actor.login);
      if (level === "none") throw notFound();
      const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(level);
      return {
        status: 200,
        json: { ...double.repoObject(repo), permissions: { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 } },
      };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/contents/{path}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["contents", "read"]);
      const repo = repoOf(double, ctx);
      const ref = ctx.query.get("ref") ?? repo.defaultBranch;
      const commit = double.findCommit(repo, ref);
      const path = (ctx.params["path"] ?? "").replace(/^\/+|\/+$/g, "");
      const api = `${double.url}/repos/${repo.owner}/${repo.name}`;
      const html = `${double.webUrl}/${repo.owner}/${repo.name}`;
      const entry = (entryPath: string, type: "file" | "dir"): Record<string, unknown> => {
        const sha = commit.objectShas.get(entryPath) ?? "";
        const self = `${api}/contents/${entryPath}?ref=${encodeURIComponent(ref)}`;
        const gitUrl = `${api}/git/${type === "dir" ? "trees" : "blobs"}/${sha}`;
        const htmlUrl = `${html}/${type === "dir" ? "tree" : "blob"}/${ref}/${entryPath}`;
        return {
          type,
          size: type === "file" ? (commit.files.get(entryPath)?.length ?? 0) : 0,
          name: entryPath.split("/").pop() ?? entryPath,
          path: entryPath,
          sha,
          url: self,
          git_url: gitUrl,
          html_url: htmlUrl,
          download_url: type === "file" ? `${double.webUrl}/raw/${repo.owner}/${repo.name}/${commit.sha}/${entryPath}` : null,
          _links: { self, git: gitUrl, html: htmlUrl },
        };
      };
      const file = commit.files.get(path);
      if (file !== undefined) {
        const accept = ctx.headers["accept"] ?? "";
        // `application/vnd.github.raw` (octokit `mediaType: { format: "raw" }`) returns the bytes themselves.
        if (/vnd\.github(\.v3)?\.raw/.test(accept)) {
          return { status: 200, raw: { body: file, contentType: "application/vnd.github.raw; charset=utf-8" } };
        }
        const inline = file.length <= CONTENTS_INLINE_MAX_BYTES;
        return {
          status: 200,
          json: {
            ...entry(path, "file"),
            // GitHub wraps the base64 at 60 characters, like `base64` without -w0.
            content: inline ? (file.toString("base64").match(/.{1,60}/g) ?? []).map((line) => `${line}\n`).join("") : "",
            encoding: inline ? "base64" : "none",
          },
        };
      }
      const prefix = path === "" ? "" : `${path}/`;
      const children = new Map<string, "file" | "dir">();
      for (const filePath of commit.files.keys()) {
        if (!filePath.startsWith(prefix)) continue;
        const [head = "", ...rest] = filePath.slice(prefix.length).split("/");
        children.set(`${prefix}${head}`, rest.length > 0 ? "dir" : "file");
      }
      if (children.size === 0 && path !== "") throw notFound();
      const listing = [...children]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([childPath, type]) => entry(childPath, type));
      return { status: 200, json: listing };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/tarball/{ref}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["contents", "read"]);
      const repo = repoOf(double, ctx);
      const given = ctx.params["ref"] || repo.defaultBranch; // `/tarball` without a ref: the default branch
      double.findCommit(repo, given);
      // GitHub answers 302 to codeload, which serves the archive; fetch and octokit follow it.
      const ref = given.split("/").map(encodeURIComponent).join("/");
      const location = `${double.webUrl}/_codeload/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}/legacy.tar.gz/${ref}`;
      return { status: 302, headers: { location }, raw: { body: "", contentType: "text/html;charset=utf-8" } };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/commits/{ref}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["contents", "read"]);
      const repo = repoOf(double, ctx);
      const commit = double.findCommitOr422(repo, ctx.params["ref"] ?? "", false);
      return { status: 200, json: double.commitObject(repo, commit, true) };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/git/ref/{ref}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["contents", "read"]);
      const repo = repoOf(double, ctx);
      const ref = ctx.params["ref"] ?? "";
      const [kind, ...rest] = ref.split("/");
      const name = rest.join("/");
      const sha = kind === "heads" ? repo.branches.get(name) : kind === "tags" ? repo.tags.get(name) : undefined;
      if (sha === undefined) throw notFound();
      const api = `${double.url}/repos/${repo.owner}/${repo.name}`;
      return {
        status: 200,
        json: {
          ref: `refs/${ref}`,
          node_id: Buffer.from(`03:Ref${repo.id}:refs/${ref}`).toString("base64"),
          url: `${api}/git/refs/${ref}`,
          // Tags are lightweight in the double: they point at the commit itself.
          object: { type: "commit", sha, url: `${api}/git/commits/${sha}` },
        },
      };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/branches/{branch}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["contents", "read"], ["metadata", "read"]);
      const repo = repoOf(double, ctx);
      const branch = ctx.params["branch"] ?? "";
      const sha = repo.branches.get(branch);
      const commit = sha === undefined ? undefined : repo.commits.get(sha);
      if (commit === undefined) throw notFound();
      const api = `${double.url}/repos/${repo.owner}/${repo.name}`;
      return {
        status: 200,
        json: {
          name: branch,
          commit: double.commitObject(repo, commit, false),
          _links: { self: `${api}/branches/${branch}`, html: `${double.webUrl}/${repo.owner}/${repo.name}/tree/${branch}` },
          protected: false,
          protection: { enabled: false, required_status_checks: { enforcement_level: "off", contexts: [], checks: [] } },
          protection_url: `${api}/branches/${branch}/protection`,
        },
      };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["pull_requests", "read"]);
      const repo = repoOf(double, ctx);
      const pull = repo.pulls.get(numberParam(ctx, "pull_number"));
      if (pull === undefined) throw notFound();
      return { status: 200, json: double.pullRequestObject(repo, pull) };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/issues/{issue_number}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["issues", "read"], ["pull_requests", "read"]);
      const repo = repoOf(double, ctx);
      return { status: 200, json: double.issueObject(repo, double.findIssue(repo, numberParam(ctx, "issue_number"))) };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["metadata", "read"]);
      const repo = repoOf(double, ctx);
      const login = ctx.params["username"] ?? "";
      const level = double.permissionLevel(repo, login);
      const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(level);
      return {
        status: 200,
        json: {
          permission: LEGACY_PERMISSION[level],
          role_name: level,
          user: {
            ...double.user(login),
            permissions: { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 },
            role_name: level,
          },
        },
      };
    },
  ],

  [
    "POST /repos/{owner}/{repo}/check-runs",
    (double, ctx) => {
      requireApp(ctx.actor);
      double.requirePermission(ctx.actor, ["checks", "write"]);
      const repo = repoOf(double, ctx);
      const body = bodyOf(ctx);
      const headSha = stringField(body, "head_sha") ?? "";
      const commit = double.findCommitOr422(repo, headSha, true);
      checkRunRules(body, true);
      const now = isoSeconds(new Date());
      const conclusion = stringField(body, "conclusion") ?? null;
      const state = double.newCheckRun(repo, {
        head_sha: commit.sha,
        name: stringField(body, "name") ?? "",
        details_url: stringField(body, "details_url"),
        external_id: stringField(body, "external_id") ?? "",
        // Giving a conclusion completes the run, whatever `status` says.
        status: conclusion !== null ? "completed" : (stringField(body, "status") ?? "queued"),
        conclusion,
        started_at: stringField(body, "started_at") ?? now,
        completed_at: conclusion !== null ? (stringField(body, "completed_at") ?? now) : null,
      });
      applyOutput(state, body);
      state.updates.push({ at: new Date(), method: "POST", body: structuredClone(body), state: structuredClone(state.data) });
      return { status: 201, json: state.data, headers: { location: state.data.url } };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["checks", "read"]);
      const state = double.checkRunState(repoOf(double, ctx), numberParam(ctx, "check_run_id"));
      return { status: 200, json: state.data };
    },
  ],

  [
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
    (double, ctx) => {
      requireApp(ctx.actor);
      double.requirePermission(ctx.actor, ["checks", "write"]);
      const state = double.checkRunState(repoOf(double, ctx), numberParam(ctx, "check_run_id"));
      const body = bodyOf(ctx);
      checkRunRules(body, false);
      const data = state.data;
      const now = isoSeconds(new Date());
      data.name = stringField(body, "name") ?? data.name;
      data.details_url = stringField(body, "details_url") ?? data.details_url;
      data.external_id = stringField(body, "external_id") ?? data.external_id;
      data.started_at = stringField(body, "started_at") ?? data.started_at;
      const conclusion = stringField(body, "conclusion");
      const status = stringField(body, "status");
      if (conclusion !== undefined) {
        data.status = "completed";
        data.conclusion = conclusion;
        data.completed_at = stringField(body, "completed_at") ?? data.completed_at ?? now;
      } else if (status !== undefined) {
        data.status = status;
      }
      applyOutput(state, body);
      state.updates.push({ at: new Date(), method: "PATCH", body: structuredClone(body), state: structuredClone(data) });
      return { status: 200, json: data };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["checks", "read"]);
      const repo = repoOf(double, ctx);
      const state = double.checkRunState(repo, numberParam(ctx, "check_run_id"));
      const all = state.annotations.map((a) => ({
        path: a.path,
        blob_href: `${double.webUrl}/${repo.owner}/${repo.name}/blob/${state.data.head_sha}/${a.path}`,
        start_line: a.start_line,
        end_line: a.end_line,
        start_column: a.start_column ?? null,
        end_column: a.end_column ?? null,
        annotation_level: a.annotation_level,
        title: a.title ?? null,
        message: a.message,
        raw_details: a.raw_details ?? null,
      }));
      const { page, headers } = paginate(all, ctx);
      return { status: 200, json: page, headers };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["checks", "read"]);
      const repo = repoOf(double, ctx);
      const commit = double.findCommitOr422(repo, ctx.params["ref"] ?? "", false);
      const name = ctx.query.get("check_name");
      const status = ctx.query.get("status");
      let runs = double
        .allCheckRunStates(repo)
        .map((s) => s.data)
        .filter((run) => run.head_sha === commit.sha && (name === null || run.name === name) && (status === null || run.status === status));
      if ((ctx.query.get("filter") ?? "latest") === "latest") {
        // "latest" keeps the most recent run of each name (a re-run replaces its predecessor).
        const newest = new Map<string, CheckRun>();
        for (const run of runs) newest.set(run.name, run);
        runs = [...newest.values()];
      }
      runs.sort((a, b) => b.id - a.id);
      const { page, headers } = paginate(runs, ctx);
      return { status: 200, json: { total_count: runs.length, check_runs: page }, headers };
    },
  ],

  [
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    (double, ctx) => {
      const repo = repoOf(double, ctx);
      const issue = double.findIssue(repo, numberParam(ctx, "issue_number"));
      double.requirePermission(ctx.actor, ["issues", "write"], ...(issue.isPullRequest ? [["pull_requests", "write"] as const] : []));
      const body = stringField(bodyOf(ctx), "body") ?? "";
      checkCommentLength(body);
      const comment = double.createComment(repo, issue, body, ctx.actor);
      return { status: 201, json: comment, headers: { location: comment.url } };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["issues", "read"], ["pull_requests", "read"]);
      const repo = repoOf(double, ctx);
      const issue = double.findIssue(repo, numberParam(ctx, "issue_number"));
      const since = ctx.query.get("since");
      const all = double
        .commentsOn(repo.owner, repo.name, issue.number)
        .filter((c) => since === null || Date.parse(c.updated_at) >= Date.parse(since));
      const { page, headers } = paginate(all, ctx);
      return { status: 200, json: page, headers };
    },
  ],

  [
    "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["issues", "read"], ["pull_requests", "read"]);
      return { status: 200, json: double.commentState(repoOf(double, ctx), numberParam(ctx, "comment_id")).data };
    },
  ],

  [
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["issues", "write"], ["pull_requests", "write"]);
      const state = double.commentState(repoOf(double, ctx), numberParam(ctx, "comment_id"));
      if (state.data.user.login.toLowerCase() !== double.actorLogin(ctx.actor).toLowerCase() && ctx.actor.kind === "installation") {
        // An app may edit only its own comments (it has no maintainer rights on others' comments).
        throw new GitHubError(403, "Resource not accessible by integration (editing a comment the app did not write)", true);
      }
      const body = stringField(bodyOf(ctx), "body") ?? "";
      checkCommentLength(body);
      state.data.body = body;
      state.data.updated_at = isoSeconds(new Date());
      state.history.push(body);
      return { status: 200, json: state.data };
    },
  ],

  [
    "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    (double, ctx) => {
      double.requirePermission(ctx.actor, ["issues", "write"], ["pull_requests", "write"]);
      const repo = repoOf(double, ctx);
      const comment = double.commentState(repo, numberParam(ctx, "comment_id"));
      const { reaction, created } = double.addReaction(repo, comment, stringField(bodyOf(ctx), "content") ?? "", ctx.actor);
      // 200 when this user already left the same reaction, 201 when it is new.
      return { status: created ? 201 : 200, json: reaction };
    },
  ],
]);

/** Only GitHub Apps may write check runs; other tokens get 403 on GitHub. */
function requireApp(actor: Actor): void {
  if (actor.kind !== "installation") {
    throw new GitHubError(403, "You must authenticate via a GitHub App (check runs are written with an installation token)", true);
  }
}

function checkCommentLength(body: string): void {
  if ([...body].length > COMMENT_MAX_CHARS) throw rejected(`body is too long (maximum is ${COMMENT_MAX_CHARS} characters)`);
}

/**
 * Rules the checks API states in its descriptions rather than its schema:
 * https://docs.github.com/rest/checks/runs#create-a-check-run
 */
function checkRunRules(body: Record<string, unknown>, creating: boolean): void {
  if (body["conclusion"] === undefined && (body["status"] === "completed" || body["completed_at"] !== undefined)) {
    throw rejected("conclusion is required when status is completed or completed_at is given");
  }
  const output = body["output"];
  if (!isRecord(output)) return;
  // On update the schema only requires `summary`, but the description marks `title` as required too.
  if (!creating && typeof output["title"] !== "string") throw rejected("output.title is required when output is given");
  const annotations = Array.isArray(output["annotations"]) ? output["annotations"] : [];
  annotations.forEach((annotation: unknown, i) => {
    if (!isRecord(annotation)) return;
    if ((annotation["start_column"] !== undefined || annotation["end_column"] !== undefined) && annotation["start_line"] !== annotation["end_line"]) {
      throw rejected(`output.annotations[${i}]: start_column/end_column are only allowed when start_line equals end_line`);
    }
    if (typeof annotation["title"] === "string" && annotation["title"].length > 255) {
      throw rejected(`output.annotations[${i}].title is longer than 255 characters`);
    }
    for (const key of ["message", "raw_details"]) {
      const value = annotation[key];
      if (typeof value === "string" && Buffer.byteLength(value) > 64 * 1024) {
        throw rejected(`output.annotations[${i}].${key} is larger than 64 KB`);
      }
    }
  });
}

/** Output fields replace the previous ones; annotations accumulate across requests, as on GitHub. */
function applyOutput(state: CheckRunState, body: Record<string, unknown>): void {
  const output = body["output"];
  if (!isRecord(output)) return;
  const data = state.data;
  const title = stringField(output, "title");
  const summary = stringField(output, "summary");
  const text = stringField(output, "text");
  data.output = {
    ...data.output,
    title: title ?? data.output.title,
    summary: summary ?? data.output.summary,
    text: text ?? data.output.text,
  };
  const annotations = Array.isArray(output["annotations"]) ? output["annotations"] : [];
  for (const annotation of annotations) {
    // Validated against the schema already: the required fields are there with the right types.
    if (isRecord(annotation)) state.annotations.push(annotation as unknown as CheckRunAnnotation);
  }
  data.output.annotations_count = state.annotations.length;
}

// ---------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------

/** Starts the double on 127.0.0.1; the first call in a process also loads the OpenAPI description. */
export async function startGitHubDouble(options: GitHubDoubleOptions = {}): Promise<GitHubDouble> {
  const double = new GitHubDoubleServer(await loadOpenApiIndex(), options);
  await double.listen();
  return double;
}
