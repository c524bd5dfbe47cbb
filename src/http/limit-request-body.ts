import type { IncomingMessage, ServerResponse } from "node:http";
import { Transform, type Readable } from "node:stream";
import { DstackError } from "../errors.js";

/** The body of `req` as a stream that fails once more than `maxBytes` have come, and what it counted. */
export interface LimitedBody {
  body: Readable;
  /** Bytes read so far. */
  bytes(): number;
  /** True once the body went past `maxBytes`: the upload failed for its size, whatever the store then said. */
  exceeded(): boolean;
}

/**
 * Counts the request body as it streams into a store, failing it with `tooLarge()` past `maxBytes`
 * (a chunked body declares no length, and a declared one is only a claim). The request is piped,
 * not destroyed, so the handler can still answer 413; `refuseRest` then closes the connection
 * rather than read the rest of a runaway upload.
 */
export function limitRequestBody(req: IncomingMessage, maxBytes: number, tooLarge: () => DstackError): LimitedBody {
  let size = 0;
  let over = false;
  const body = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) {
        over = true;
        callback(tooLarge());
        return;
      }
      callback(null, chunk);
    },
  });
  // The limit may trip before the store attaches to `body` (a small limit, a body that came in one
  // read while the store made its folder): unheard, that 'error' event would end the process. The
  // store still sees the error, since an errored stream fails its pipeline at once.
  body.on("error", () => undefined);
  req.pipe(body);
  // Also a client that goes away mid-body (ECONNRESET "aborted"): the store's put fails rather than waits.
  req.on("error", (err) => body.destroy(err));
  return { body, bytes: () => size, exceeded: () => over };
}

/** The request's declared `content-length`, or undefined for a chunked body (or a header that is not a length). */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers["content-length"];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Marks the answer to close the connection: refusing an upload part-way (or before it starts), the
 * rest of its body is not worth reading, which Node would otherwise do to keep the connection alive.
 */
export function refuseRest(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
}
