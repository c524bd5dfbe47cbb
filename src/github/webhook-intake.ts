import type { IncomingMessage, ServerResponse } from "node:http";
import { verify } from "@octokit/webhooks-methods";
import type { Redis } from "ioredis";
import type { EventJob } from "../../queue/jobs.js";
import type { Logger } from "../logger.js";
import { readBody, sendJson } from "../http/router.js";
import { isHandled } from "./is-handled.js";

export interface WebhookIntakeDeps {
  secret: string;
  redis: Redis;
  prefix: string;
  enqueue(job: EventJob): Promise<void>;
  log: Pick<Logger, "warn" | "error">;
}

/** GitHub redelivers by hand or API for 3 days with the same delivery id: remember ids that long. */
export const DELIVERY_TTL_SECONDS = 3 * 24 * 3600;
/** GitHub caps payloads at 25 MB. */
const MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;

/** Top-level payload fields the handlers read; the rest (organization, enterprise, ...) is dropped. */
const KEEP = [
  "action",
  "installation",
  "repository",
  "sender",
  "issue",
  "comment",
  "changes",
  "pull_request",
  "ref",
  "ref_type",
  "before",
  "after",
  "created",
  "deleted",
  "forced",
  "base_ref",
  "head_commit",
  "check_run",
  "requested_action",
  "master_branch",
  "pusher_type",
];

/**
 * `POST /api/github/webhooks`: verify the signature (constant time), acknowledge deliveries that
 * cannot lead to work (200, nothing stored), drop redeliveries, enqueue a trimmed event and answer 202. No GitHub call and no run work happens here (STYLE §2). Redis
 * down means 503, so GitHub records a failed delivery that can be redelivered: never 2xx-and-drop.
 */
export function createWebhookIntake(deps: WebhookIntakeDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const event = header(req, "x-github-event");
    const id = header(req, "x-github-delivery");
    const signature = header(req, "x-hub-signature-256");
    if (event === undefined || id === undefined || signature === undefined) {
      const missing = [
        ["x-github-event", event],
        ["x-github-delivery", id],
        ["x-hub-signature-256", signature],
      ]
        .filter(([, v]) => v === undefined)
        .map(([k]) => k);
      sendJson(res, 400, { code: "invalid_input", message: `missing header(s): ${missing.join(", ")}` });
      return;
    }
    const body = await readBody(req, MAX_PAYLOAD_BYTES);
    const text = body.toString("utf8");
    let valid: boolean;
    try {
      valid = await verify(deps.secret, text, signature);
    } catch {
      valid = false;
    }
    if (!valid) {
      sendJson(res, 401, { code: "unauthorized", message: "signature does not match: check WEBHOOK_SECRET" });
      return;
    }
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(text) as Record<string, unknown>;
    } catch {
      sendJson(res, 400, { code: "invalid_input", message: "the payload is not JSON" });
      return;
    }
    // Most deliveries lead to nothing (comments without a command, events the app ignores):
    // acknowledged here, they cost no Redis write and no worker. Redelivering them is harmless.
    if (!isHandled(event, payload)) {
      sendJson(res, 200, { ok: true, ignored: true });
      return;
    }
    const key = `${deps.prefix}:delivery:${id}`;
    try {
      const first = await deps.redis.set(key, "1", "EX", DELIVERY_TTL_SECONDS, "NX");
      if (first !== "OK") {
        sendJson(res, 200, { ok: true, duplicate: true });
        return;
      }
      try {
        await deps.enqueue({ id, name: event, payload: trim(payload) });
      } catch (err) {
        // Forget the id so GitHub's redelivery of this failed delivery is accepted.
        await deps.redis.del(key).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      deps.log.error({ err, deliveryId: id }, "cannot queue a webhook delivery: is Redis up?");
      sendJson(res, 503, { code: "unavailable", message: "cannot queue the delivery right now; redeliver it later" });
      return;
    }
    sendJson(res, 202, { ok: true });
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

function trim(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEEP) if (k in payload) out[k] = payload[k];
  const issue = out.issue as Record<string, unknown> | undefined;
  if (issue !== undefined) out.issue = { ...issue, body: undefined };
  return out;
}
