import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, describe, expect, it } from "@jest/globals";
import { DstackError } from "../../src/errors.js";
import { limitRequestBody, refuseRest } from "../../src/http/limit-request-body.js";

/**
 * The request-body limit over a real HTTP server: a body over the limit fails the store's pipeline
 * with the limit's error (answered 413), also when it trips before the store attached to the body,
 * which used to end the whole service (an 'error' event nobody heard).
 */

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

/** What the handler saw: the store's outcome and the bytes it kept. */
interface Outcome {
  error?: string;
  kept: number;
  counted: number;
}

/**
 * A server whose handler limits the body to `maxBytes`, then lets `beforeStore` pass (the store
 * making its folder, say) before piping it into a counting sink; it answers 413 when that fails.
 */
async function serve(maxBytes: number, beforeStore: (req: IncomingMessage) => Promise<void>, outcomes: Outcome[]): Promise<string> {
  server = createServer((req, res) => {
    const limited = limitRequestBody(req, maxBytes, () => {
      refuseRest(res);
      return new DstackError("too_large", `over the limit of ${maxBytes} bytes`);
    });
    void (async () => {
      let kept = 0;
      const sink = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          kept += chunk.length;
          callback();
        },
      });
      await beforeStore(req);
      try {
        await pipeline(limited.body, sink);
        outcomes.push({ kept, counted: limited.bytes() });
        res.writeHead(201).end("stored");
      } catch (err) {
        outcomes.push({ error: err instanceof Error ? err.message : String(err), kept, counted: limited.bytes() });
        res.writeHead(limited.exceeded() ? 413 : 500).end("refused");
      }
    })();
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Until the whole body has been read (so a limit it passes has tripped), then a little more. */
async function bodyRead(req: IncomingMessage): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!req.complete && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("limitRequestBody", () => {
  it("refuses a body that passes the limit before the store reads it, and the process goes on", async () => {
    const outcomes: Outcome[] = [];
    const url = await serve(100, bodyRead, outcomes);
    const res = await fetch(url, { method: "POST", body: Buffer.alloc(5000, 1) });
    expect(res.status).toBe(413);
    expect(outcomes).toEqual([{ error: "over the limit of 100 bytes", kept: 0, counted: expect.any(Number) }]);
    expect(outcomes[0]?.counted).toBeGreaterThan(100);
    // Still serving: the refusal closed that connection, not the server.
    expect((await fetch(url, { method: "POST", body: Buffer.alloc(50, 2) })).status).toBe(201);
  });

  it("passes a body within the limit through whole, counting its bytes", async () => {
    const outcomes: Outcome[] = [];
    const url = await serve(100, bodyRead, outcomes);
    expect((await fetch(url, { method: "POST", body: Buffer.alloc(100, 3) })).status).toBe(201);
    expect(outcomes).toEqual([{ kept: 100, counted: 100 }]);
  });
});
