import { z } from "zod";
import { InvalidInputError } from "../../errors.js";
import { TAG_NAME_PATTERN, TAG_NAME_RULE } from "../../runs/tag-name.js";

/** `owner/name`, as GitHub allows them. */
export const RepoName = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be `owner/name`");

/** A dstack tag: what `depends-on: [workflow:tag]` names (same rule as `/dstack tag`). */
export const TagName = z.string().regex(TAG_NAME_PATTERN, TAG_NAME_RULE);

/** A secret becomes an environment variable of the run, so its name must be one. */
export const SecretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be an environment variable name (ASCII letters, digits, _; not starting with a digit)");

const RepoPath = z.string().max(4096).refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a relative path inside the repository");

export const SubmitRunBody = z.strictObject({
  repo: RepoName,
  /** The command line after `run`: `["train", "--gpu", "2"]` or `["python", "train.py", "-r", "requirements.txt"]`. */
  run: z.array(z.string().max(4096)).min(1).max(256),
  /** Variables, as `--name value` on the command line would give them. */
  variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/), z.string().max(65536)).optional(),
  /** `.dstack/` files as the user has them (paths relative to the repository root). */
  files: z.array(z.strictObject({ path: RepoPath, text: z.string().max(1024 * 1024) })).max(200).default([]),
  commit: z.string().regex(/^[0-9a-f]{7,64}$/, "must be a commit sha (hex)").optional(),
  ref: z.string().max(255).optional(),
  code: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("upload"), upload: z.string() }),
    z.strictObject({
      kind: z.literal("github"),
      /** An upload of changed and untracked files to lay over the commit. */
      overlay: z.string().optional(),
      /** Files deleted locally. */
      deleted: z.array(RepoPath).max(100_000).default([]),
    }),
  ]),
});
export type SubmitRunBody = z.infer<typeof SubmitRunBody>;

export const AddTagBody = z.strictObject({ tag: TagName, runId: z.string().min(1).max(64) });

export const PutSecretBody = z.strictObject({ value: z.string().min(1, "must not be empty").max(64 * 1024) });

/** The most runs one `GET /api/v1/runs` lists (`dstack runs -n` checks it too, in its own words). */
export const MAX_LISTED_RUNS = 500;

export const ListRunsQuery = z.strictObject({
  repo: RepoName.optional(),
  workflow: z.string().max(200).optional(),
  status: z.enum(["submitted", "provisioning", "running", "uploading", "done", "failed", "stopped", "timed_out"]).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LISTED_RUNS).default(50),
});

export const LogQuery = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
  follow: z.enum(["true", "false", "1", "0"]).optional(),
});

/** Parses `input` or throws `invalid_input` naming every field that is wrong. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  // An issue of the whole input (a path parameter) is named by `what` already: "bad secret name: must be ...".
  const problems = parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message));
  throw new InvalidInputError(`bad ${what}: ${problems.join("; ")}`);
}

/** A URL's query as a plain object (last value wins). */
export function queryOf(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}
