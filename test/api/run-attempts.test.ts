import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Ajv } from "ajv";
import { openApiPath } from "../../src/api/v1/openapi-route.js";
import type { Run, RunAttempt } from "../../src/runs/types.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/**
 * A run that spot interruptions moved across machines shows each attempt (machine, market, zone,
 * when it was taken back, the checkpoint it saved) on its page and in its /api/v1 JSON, which
 * matches the OpenAPI document. Recorded text is escaped on the page like everything else.
 */

const HOSTILE = `<script>alert(1)</script>"><img src=x onerror=alert(1)>`;
const T0 = Date.UTC(2026, 10, 30, 9, 0, 0);

let redis: TestRedis;
let service: TestService;
let run: Run;

const attempts: RunAttempt[] = [
  {
    attempt: 1,
    machine: "g5.xlarge (1x A10G) spot in us-east-1a, i-0aaaaaaaaaaaaaaa1",
    machineId: "i-0aaaaaaaaaaaaaaa1",
    instanceType: "g5.xlarge",
    market: "spot",
    zone: "us-east-1a",
    launchedAt: T0,
    interruptedAt: T0 + 20 * 60_000,
    checkpointFiles: 2,
    checkpointBytes: 3 * 1024 * 1024,
    checkpointSavedAt: T0 + 19 * 60_000,
    pricePerHour: 0.4,
    gpuCount: 1,
  },
  // An attempt on a machine the backend did not describe (no type): its description is shown, escaped.
  { attempt: 2, machine: HOSTILE, interruptedAt: T0 + 40 * 60_000, checkpointFiles: 0, checkpointBytes: 0 },
];

beforeAll(async () => {
  redis = await startRedis("run-attempts-page");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
  const seeded = await seedRun(service, redis.prefix, { repo: "acme/spot", workflow: "train", log: "step 1\n", status: "running" });
  await service.store.update(seeded.id, {
    attempts,
    checkpoint: { attempt: 1, files: [{ path: "ckpt/a.pt", sizeBytes: 3 * 1024 * 1024 }], savedAt: T0 + 19 * 60_000 },
    machine: {
      backend: "ec2",
      id: "i-0ccccccccccccccc3",
      description: "g5.xlarge (1x A10G) on-demand in us-east-1b, i-0ccccccccccccccc3",
      details: { instanceId: "i-0ccccccccccccccc3", instanceType: "g5.xlarge", market: "on-demand", zone: "us-east-1b", pricePerHour: 1.006, gpuCount: 1, gpuName: "A10G", launchedAt: T0 + 41 * 60_000 },
    },
  });
  run = await service.store.get(seeded.id);
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
});

const auth = () => ({ authorization: `Bearer ${service.keys.apiToken}` });

describe("a run's attempts", () => {
  it("are listed on the run page, oldest first, then the current one, with every recorded string escaped", async () => {
    const res = await fetch(`${service.url}/runs/${run.id}`, { headers: { accept: "text/html", ...auth() } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    const html = await res.text();
    const section = html.slice(html.indexOf('<h2 id="attempts-h">'), html.indexOf('<section aria-labelledby="log-h">'));
    const rows = [...section.matchAll(/<tr><td>(.*?)<\/tr>/g)].map((m) => (m[1] ?? "").split(/<\/td><td>/).map((c) => c.replace(/<\/td>$/, "")));
    expect(rows).toEqual([
      ["1", "g5.xlarge <code>i-0aaaaaaaaaaaaaaa1</code>", "spot", "us-east-1a", "interrupted 2026-11-30 09:20:00 UTC", "2 files, 3.0 MB, saved 2026-11-30 09:19:00 UTC"],
      ["2", "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;", "", "", "interrupted 2026-11-30 09:40:00 UTC", "none saved"],
      ["3", "g5.xlarge <code>i-0ccccccccccccccc3</code>", "on-demand", "us-east-1b", "current", "restored the checkpoint of attempt 1"],
    ]);
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toMatch(/<img src=x/);
  });

  it("are in the run JSON of /api/v1, as the OpenAPI document's Run schema says", async () => {
    const res = await fetch(`${service.url}/api/v1/runs/${run.id}`, { headers: auth() });
    expect(res.status).toBe(200);
    const { run: body } = (await res.json()) as { run: { attempts?: unknown[]; machine?: { id: string } } };
    // The record as stored, its times as ISO 8601.
    const { launchedAt: _l, interruptedAt: _i, checkpointSavedAt: _c, ...recorded } = attempts[0] as RunAttempt;
    expect(body.attempts).toEqual([
      { ...recorded, launchedAt: "2026-11-30T09:00:00.000Z", interruptedAt: "2026-11-30T09:20:00.000Z", checkpointSavedAt: "2026-11-30T09:19:00.000Z" },
      { attempt: 2, machine: HOSTILE, interruptedAt: "2026-11-30T09:40:00.000Z", checkpointFiles: 0, checkpointBytes: 0 },
    ]);
    expect(body.machine?.id).toBe("i-0ccccccccccccccc3");
    // The OpenAPI description of a run accepts it, and would refuse an attempt without its times.
    const doc = JSON.parse(readFileSync(openApiPath(), "utf8")) as object;
    const ajv = new Ajv({ strict: false, validateFormats: false });
    ajv.addSchema(doc, "openapi");
    const validate = ajv.getSchema("openapi#/components/schemas/Run");
    expect(validate?.(body)).toBe(true);
    expect(validate?.({ ...body, attempts: [{ attempt: 1, machine: "m", checkpointFiles: 0, checkpointBytes: 0 }] })).toBe(false);
  });

  it("are left out of a run that was never interrupted", async () => {
    const plain = await seedRun(service, redis.prefix, { repo: "acme/spot", workflow: "plain", log: "ok\n" });
    const html = await (await fetch(`${service.url}/runs/${plain.id}`, { headers: { accept: "text/html", ...auth() } })).text();
    expect(html).toContain('<h2 id="log-h">');
    expect(html).not.toContain('id="attempts-h"');
    const { run: body } = (await (await fetch(`${service.url}/api/v1/runs/${plain.id}`, { headers: auth() })).json()) as { run: Record<string, unknown> };
    expect(body.status).toBe("done");
    expect(body).not.toHaveProperty("attempts");
  });
});
