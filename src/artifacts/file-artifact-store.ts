import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArtifactNotFoundError, InvalidInputError } from "../errors.js";
import { DOWNLOAD_ROUTE_PATH, signDownload } from "./download-signature.js";
import { clampExpiresInSeconds } from "./expiry.js";
import { assertSafeKey, assertSafePrefix, compareKeys } from "./keys.js";
import type { ArtifactObject, ArtifactStore, PutOptions } from "./types.js";

/**
 * Uploads in progress are written here, beside the objects so that the final `rename` stays on
 * one file system (and so is atomic); `list` and `deletePrefix` skip it and keys may not use it.
 */
const INCOMING_DIR = ".dstack-incoming";
const MIN_SIGNING_KEY_BYTES = 32;

export interface FileArtifactStoreOptions {
  /** Absolute folder that holds the objects: the key `a/b.txt` is the file `<root>/a/b.txt`. Created on first put. */
  root: string;
  /** Base URL of this service (`DSTACK_PUBLIC_URL`); download URLs point at its `/artifacts/download` route. */
  publicUrl: string;
  /** HMAC key for download URLs, at least 32 bytes; the route verifies with the same key. */
  signingKey: Buffer;
  /** Clock for download URL expiry, in ms. Default: `Date.now`. */
  now?: () => number;
}

/** The `code` of a Node system error (checked by shape: `instanceof Error` fails across realms, e.g. under Jest). */
function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

/** An `ArtifactStore` in a local folder, with download URLs signed for a route of this service. */
export function createFileArtifactStore(options: FileArtifactStoreOptions): ArtifactStore {
  if (!isAbsolute(options.root)) {
    throw new InvalidInputError(`artifact folder ${JSON.stringify(options.root)} is not an absolute path`);
  }
  if (options.signingKey.length < MIN_SIGNING_KEY_BYTES) {
    throw new InvalidInputError(
      `the download signing key has ${options.signingKey.length} bytes; it needs at least ${MIN_SIGNING_KEY_BYTES}`,
    );
  }
  const root = resolve(options.root);
  const incoming = join(root, INCOMING_DIR);
  const publicUrl = options.publicUrl.replace(/\/+$/, "");
  const { signingKey } = options;
  const now = options.now ?? Date.now;

  function pathOf(key: string): string {
    assertSafeKey(key);
    if (key.split("/", 1)[0] === INCOMING_DIR) {
      throw new InvalidInputError(`artifact key ${JSON.stringify(key)} uses the reserved folder ${INCOMING_DIR}`);
    }
    return join(root, ...key.split("/"));
  }

  /** The error to reject a failed put with: a clear one for a file/folder clash, else `err` itself. */
  function putError(key: string, err: unknown): unknown {
    const code = errnoCode(err);
    if (code === "EISDIR" || code === "ENOTDIR" || code === "EEXIST") {
      return new InvalidInputError(
        `artifact key ${JSON.stringify(key)} clashes with another object: in a folder store a key cannot ` +
          `be both an object and the folder of other objects`,
      );
    }
    return err;
  }

  /** Every regular file below `dir` (whose key is `dirKey`), depth first; symlinks are not followed. */
  async function walk(dir: string, dirKey: string, out: ArtifactObject[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      // Nothing stored there yet, or it vanished under a concurrent deletePrefix.
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw err;
    }
    for (const entry of entries) {
      if (dirKey === "" && entry.name === INCOMING_DIR) continue;
      const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path, key, out);
      } else if (entry.isFile()) {
        try {
          out.push({ key, sizeBytes: (await stat(path)).size });
        } catch (err) {
          // Deleted between readdir and stat: it is no longer there to list.
          if (errnoCode(err) !== "ENOENT") throw err;
        }
      }
    }
  }

  async function list(prefix: string): Promise<ArtifactObject[]> {
    assertSafePrefix(prefix);
    // A prefix need not end at a folder ("runs/1" matches "runs/10/..."): walk the folder that
    // holds its last segment and filter.
    const slash = prefix.lastIndexOf("/");
    const dirKey = slash < 0 ? "" : prefix.slice(0, slash);
    const out: ArtifactObject[] = [];
    await walk(dirKey === "" ? root : join(root, ...dirKey.split("/")), dirKey, out);
    return out.filter((o) => o.key.startsWith(prefix)).sort((a, b) => compareKeys(a.key, b.key));
  }

  /** Removes now-empty folders from `dir` up to (not including) the root. */
  async function pruneEmptyDirs(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(root + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (err) {
        const code = errnoCode(err);
        // Not empty (other objects, or a put that just created it): stop; already gone: go on up.
        if (code === "ENOTEMPTY" || code === "EEXIST") return;
        if (code !== "ENOENT") throw err;
      }
    }
  }

  return {
    async put(key: string, body: Readable, putOptions: PutOptions = {}): Promise<ArtifactObject> {
      const target = pathOf(key);
      const { signal } = putOptions;
      signal?.throwIfAborted();
      await mkdir(incoming, { recursive: true });
      const temp = join(incoming, randomUUID());
      let sizeBytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          sizeBytes += chunk.length;
          callback(null, chunk);
        },
      });
      try {
        await pipeline(body, counter, createWriteStream(temp, { flags: "wx" }), { signal });
        // A concurrent deletePrefix may prune the folder between mkdir and rename: make it again.
        for (let attempt = 1; ; attempt += 1) {
          await mkdir(dirname(target), { recursive: true });
          try {
            await rename(temp, target);
            break;
          } catch (err) {
            if (errnoCode(err) !== "ENOENT" || attempt === 3) throw err;
          }
        }
      } catch (err) {
        await rm(temp, { force: true });
        if (signal?.aborted) throw signal.reason;
        throw putError(key, err);
      }
      return { key, sizeBytes };
    },

    async get(key: string): Promise<Readable> {
      const path = pathOf(key);
      let handle;
      try {
        handle = await open(path, "r");
      } catch (err) {
        const code = errnoCode(err);
        if (code === "ENOENT" || code === "ENOTDIR") throw new ArtifactNotFoundError(key);
        throw err;
      }
      // Opening a folder succeeds on Linux; a folder of objects is not an object.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new ArtifactNotFoundError(key);
      }
      // Reads the file it opened even if a put renames a newer one over it meanwhile.
      return handle.createReadStream();
    },

    list,

    async deletePrefix(prefix: string): Promise<void> {
      const objects = await list(prefix);
      const dirs = new Set<string>();
      for (const { key } of objects) {
        const path = join(root, ...key.split("/"));
        await rm(path, { force: true });
        dirs.add(dirname(path));
      }
      // Deepest first, so that a parent is tried after its children are gone.
      for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await pruneEmptyDirs(dir);
    },

    async downloadUrl(key: string, urlOptions: { expiresInSeconds: number; fileName?: string }): Promise<string> {
      pathOf(key);
      const expires = Math.floor(now() / 1000) + clampExpiresInSeconds(urlOptions.expiresInSeconds);
      const query = new URLSearchParams({
        key,
        expires: String(expires),
        sig: signDownload(key, expires, signingKey),
      });
      return `${publicUrl}${DOWNLOAD_ROUTE_PATH}?${query.toString()}`;
    },

    async close(): Promise<void> {
      // Nothing is held open between calls.
    },
  };
}
