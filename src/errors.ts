/**
 * Typed errors with a stable `code` and a message a user may read: what, where, what to do.
 * Callers map them to HTTP statuses, exit codes and GitHub replies in one place each.
 */
export class DstackError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad configuration: start-up stops with this message. */
export class ConfigError extends DstackError {
  constructor(message: string) {
    super("config", message);
  }
}

/** Something the user asked for does not exist (run, artifact, workflow, tag). */
export class NotFoundError extends DstackError {
  constructor(message: string) {
    super("not_found", message);
  }
}

/** Input that cannot be accepted as given (a request body, a command, a workflow). */
export class InvalidInputError extends DstackError {
  constructor(message: string, code = "invalid_input") {
    super(code, message);
  }
}

/** Missing or bad credentials, or not allowed. */
export class UnauthorizedError extends DstackError {
  constructor(message: string) {
    super("unauthorized", message);
  }
}

/** Signed in, but not allowed to do this (e.g. no write permission on the repository on GitHub). */
export class ForbiddenError extends DstackError {
  constructor(message: string) {
    super("forbidden", message);
  }
}

/** An artifact key that does not exist in the store. */
export class ArtifactNotFoundError extends NotFoundError {
  constructor(key: string) {
    super(`artifact ${JSON.stringify(key)} does not exist`);
  }
}

/** Stored secrets cannot be decrypted with the configured key (it changed, or another deployment's data). */
export class SecretsKeyError extends DstackError {
  constructor(message: string) {
    super("secrets_key", message);
  }
}

/** A stored secret failed its integrity check: it was altered outside dstack, or the record is damaged. */
export class CorruptSecretError extends DstackError {
  constructor(message: string) {
    super("secret_corrupt", message);
  }
}

/**
 * GitHub may not be asked anything for this installation for `retryAfterMs` more (a back-off window
 * after a rate limit, or the content-creating budget is spent): the caller's retry waits that long.
 */
export class GitHubBackoffError extends DstackError {
  constructor(
    readonly installationId: number,
    readonly retryAfterMs: number,
    options?: { cause?: unknown; message?: string },
  ) {
    super("unavailable", options?.message ?? `GitHub is rate limiting installation ${installationId}: no request for ${Math.ceil(retryAfterMs / 1000)} s`, options);
  }
}

/**
 * The service shut down while a GitHub request waited for the installation's rate gate: it was not
 * sent. Transient like any back-off (`retryAfterMs` is the wait that was left): the work's retry, in
 * a BullMQ backoff or in the process that adopts the run, sends it once the window has ended.
 */
export class GitHubWaitAbortedError extends GitHubBackoffError {
  constructor(installationId: number, route: string, retryAfterMs: number) {
    super(installationId, retryAfterMs, {
      message: `GitHub request ${route} to installation ${installationId} was not sent: the service shut down while it waited ${Math.ceil(retryAfterMs / 1000)} s more for the rate gate; it is sent again later`,
    });
  }
}

/**
 * Whether `err` is a refusal a user may read (a missing tag, a bad command), which a handler answers
 * with a reply; a transient failure (`unavailable`: GitHub rate limiting, a shutdown) is thrown on
 * instead, so the job's retry does the work later rather than telling the user that nothing ran.
 */
export function isRefusal(err: unknown): err is DstackError {
  return err instanceof DstackError && err.code !== "unavailable";
}
