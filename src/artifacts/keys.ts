import { InvalidInputError } from "../errors.js";

/** S3's limit on a key, in UTF-8 bytes; the file store keeps it so both stores accept the same keys. */
const MAX_KEY_BYTES = 1024;

/**
 * Why `text` (a key, or a key prefix when `allowTrailingSlash`) cannot address an object in a
 * bucket prefix or below a folder, or `undefined` when it is safe. The file store joins keys onto
 * a path, so anything that could climb out of the root or alias another key is refused.
 */
function unsafeReason(text: string, allowTrailingSlash: boolean): string | undefined {
  if (text.includes("\0")) return "contains a NUL character";
  // S3 lists keys in XML, which cannot hold most control characters; a line break would also split
  // the key's line in a check run or a PR comment.
  // eslint-disable-next-line no-control-regex -- control characters are what it looks for
  if (/[\u0001-\u001f\u007f]/.test(text)) return "contains a control character (a line break, a tab)";
  if (text.includes("\\")) return "contains a backslash; use `/` between segments";
  if (text.startsWith("/")) return "is absolute; keys are relative to the store's root";
  if (Buffer.byteLength(text, "utf8") > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  const segments = text.split("/");
  if (allowTrailingSlash && segments.length > 1 && segments.at(-1) === "") segments.pop();
  for (const segment of segments) {
    if (segment === "") return "has an empty segment (`//` or a trailing `/`)";
    if (segment === "." || segment === "..") return `has a \`${segment}\` segment`;
  }
  return undefined;
}

/**
 * Throws `InvalidInputError` unless `key` is a relative `/`-separated key with no empty, `.` or
 * `..` segment, no backslash and no NUL. Both stores call it before touching anything.
 */
export function assertSafeKey(key: string): void {
  if (key === "") throw new InvalidInputError("artifact key is empty");
  const reason = unsafeReason(key, false);
  if (reason !== undefined) throw new InvalidInputError(`artifact key ${JSON.stringify(key)} ${reason}`);
}

/** Like `assertSafeKey`, for `list`/`deletePrefix`: the empty prefix (everything) and a trailing `/` pass. */
export function assertSafePrefix(prefix: string): void {
  if (prefix === "") return;
  const reason = unsafeReason(prefix, true);
  if (reason !== undefined) throw new InvalidInputError(`artifact prefix ${JSON.stringify(prefix)} ${reason}`);
}

function assertRunId(runId: string): void {
  if (runId === "" || runId.includes("/") || unsafeReason(runId, false) !== undefined) {
    throw new InvalidInputError(`run id ${JSON.stringify(runId)} cannot be part of an artifact key`);
  }
}

/** `runs/<runId>/artifacts/<path>`: where the agent uploads the file `path` of a run's artifacts. */
export function runArtifactKey(runId: string, path: string): string {
  assertRunId(runId);
  assertSafeKey(path);
  return `runs/${runId}/artifacts/${path}`;
}

/** `runs/<runId>/artifacts/`: the prefix to `list` a run's artifacts; strip it to get their paths. */
export function runArtifactsPrefix(runId: string): string {
  assertRunId(runId);
  return `runs/${runId}/artifacts/`;
}

/**
 * `runs/<runId>/checkpoints/<attempt>/<path>`: a checkpoint file saved by one attempt of a run on its
 * spot interruption notice; apart from the artifacts, and per attempt, so a set cut short by the
 * instance's end never overwrites the last complete one.
 */
export function runCheckpointKey(runId: string, attempt: number, path: string): string {
  assertRunId(runId);
  assertSafeKey(path);
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new InvalidInputError(`attempt ${attempt} cannot be part of an artifact key`);
  return `runs/${runId}/checkpoints/${attempt}/${path}`;
}

/**
 * `runs/<runId>/manifest.json`: the list of the run's artifact files, written after all of them;
 * outside the artifacts prefix so that it is never listed as one.
 */
export function runManifestKey(runId: string): string {
  assertRunId(runId);
  return `runs/${runId}/manifest.json`;
}

/** `runs/<runId>/log.txt`: the run's full log. */
export function runLogKey(runId: string): string {
  assertRunId(runId);
  return `runs/${runId}/log.txt`;
}

/** S3 lists keys in UTF-8 byte order; the file store sorts the same way (not UTF-16 order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
