import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { seedRun } from "../helpers/seed-run.js";
import { startTestService, type TestService } from "../helpers/service.js";

/** `POST /api/v1/runs/:id/rerun`: the same workflow, code and variables, reusing the dependencies' artifacts. */

let redis: TestRedis;
let service: TestService;

const rerun = (id: string) => fetch(`${service.url}/api/v1/runs/${id}/rerun`, { method: "POST", headers: { authorization: `Bearer ${service.keys.apiToken}` } });

beforeAll(async () => {
  redis = await startRedis("rerun-route");
  service = await startTestService({ redisUrl: redis.url, prefix: redis.prefix });
}, 60_000);

afterAll(async () => {
  await service?.stop();
  await redis?.stop();
});

describe("POST /api/v1/runs/:id/rerun", () => {
  it("creates a new run of the same workflow and code, triggered as a re-run, with the original's inputs", async () => {
    const dep = await seedRun(service, redis.prefix, { repo: "acme/rerun", workflow: "prepare", log: "ok\n" });
    const inputs = [{ runId: dep.id, workflow: "prepare" }];
    const original = await seedRun(service, redis.prefix, { repo: "acme/rerun", workflow: "train", log: "ok\n", inputs, variables: { lr: "0.1" } });
    const res = await rerun(original.id);
    const body = (await res.json()) as { run: { id: string; workflow: string; status: string; trigger: { kind: string }; variables: Record<string, string> } };
    expect(res.status).toBe(201);
    expect(body.run).toMatchObject({ workflow: "train", trigger: { kind: "rerun" }, variables: original.variables });
    expect(body.run.id).not.toBe(original.id);
    const again = await service.store.get(body.run.id);
    expect(again.code).toEqual(original.code);
    expect(again.needs).toEqual([]);
    expect(again.inputs).toEqual(inputs);
  });

  it("refuses a run whose dependency did not end done", async () => {
    const dep = await seedRun(service, redis.prefix, { repo: "acme/rerun", workflow: "prepare", log: "", status: "failed" });
    const run = await seedRun(service, redis.prefix, { repo: "acme/rerun", workflow: "train", log: "", inputs: [{ runId: dep.id, workflow: "prepare" }] });
    const res = await rerun(run.id);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toContain(`depends on prepare (run ${dep.id}), which ended failed`);
  });

  it("refuses a run that has not ended, and an unknown run", async () => {
    const running = await seedRun(service, redis.prefix, { repo: "acme/rerun", workflow: "long", log: "", status: "running" });
    const res = await rerun(running.id);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toContain("still running");
    expect((await rerun("nosuchrun1")).status).toBe(404);
  });
});
