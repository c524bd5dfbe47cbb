import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sendText, type Router } from "../../http/router.js";

/**
 * The OpenAPI 3 description of `/api/v1` lives in `src/api/v1/openapi.json` (kept by hand, checked
 * against the router by test/api/openapi-coverage.test.ts). Sources run from src/ and the build from
 * dist/src/: walk up to the package root, as render.ts does for templates/.
 */
export function openApiPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, "src", "api", "v1", "openapi.json");
    if (existsSync(path.join(dir, "package.json")) && existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error("src/api/v1/openapi.json not found next to package.json");
}

/** `GET /api/v1/openapi.json`, served without a token: it describes, it grants nothing. */
export function mountOpenApiRoute(router: Router): void {
  let text: string | undefined;
  router.add("GET", "/api/v1/openapi.json", (ctx) => {
    text ??= readFileSync(openApiPath(), "utf8");
    sendText(ctx.res, 200, text, "application/json; charset=utf-8");
  });
}
