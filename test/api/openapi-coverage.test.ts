import { readFileSync } from "node:fs";
import { describe, expect, it } from "@jest/globals";
import type { ApiV1Deps } from "../../src/api/v1/api-v1-deps.js";
import { mountApiV1 } from "../../src/api/v1/mount-api-v1.js";
import { openApiPath } from "../../src/api/v1/openapi-route.js";
import { Router } from "../../src/http/router.js";

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, unknown> }>>;
}

const doc = JSON.parse(readFileSync(openApiPath(), "utf8")) as OpenApiDocument;
const silent = { error: () => undefined, warn: () => undefined };

/** The router's routes under /api/v1 as `METHOD /path/{param}`. */
function routes(): string[] {
  const router = new Router(silent);
  // Mounting only registers handlers; none runs here, so the dependencies are never used.
  mountApiV1(router, {} as ApiV1Deps);
  return router
    .list()
    .filter((r) => r.path.startsWith("/api/v1/"))
    .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)\*?/g, "{$1}")}`);
}

function documented(): string[] {
  return Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
}

describe("the OpenAPI document of /api/v1", () => {
  it("is OpenAPI 3 and documents every route the router serves", () => {
    expect(doc.openapi).toMatch(/^3\./);
    const missing = routes().filter((r) => !documented().includes(r));
    expect(missing).toEqual([]);
  });

  it("documents no route the router lacks", () => {
    const served = routes();
    expect(documented().filter((d) => !served.includes(d))).toEqual([]);
  });

  it("gives every operation an id and responses", () => {
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect({ at: `${method} ${p}`, id: typeof op.operationId, responses: Object.keys(op.responses ?? {}).length > 0 }).toEqual({
          at: `${method} ${p}`,
          id: "string",
          responses: true,
        });
      }
    }
  });

  it("resolves every $ref to a component", () => {
    const text = JSON.stringify(doc);
    const components = (doc as unknown as { components: Record<string, Record<string, unknown>> }).components;
    const refs = [...text.matchAll(/"\$ref":"#\/components\/([A-Za-z]+)\/([A-Za-z]+)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""] as const);
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter(([kind, name]) => components[kind]?.[name] === undefined)).toEqual([]);
  });
});
