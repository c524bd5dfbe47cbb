import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sendJson, type Router } from "../http/router.js";

/** The pages' browser files (`web/`): plain ES modules, one stylesheet and the icon, no build step. */
const TYPES: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml" };

function findWebDir(): string {
  // Sources run from src/ (tests) and the build from dist/src/: walk up to the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "web"))) return path.join(dir, "web");
    dir = path.dirname(dir);
  }
  throw new Error("web/ not found next to package.json");
}

/**
 * Serves `web/*.js|css|svg` at `/assets/`; names are checked against the folder's listing, never
 * joined blindly. `/favicon.ico`, which browsers ask for whatever a page links, goes to the icon.
 */
export function mountWebAssets(router: Router): void {
  const dir = findWebDir();
  const cache = new Map<string, Buffer>();
  router.add("GET", "/assets/:file", (ctx) => {
    const name = ctx.params.file ?? "";
    const type = TYPES[path.extname(name)];
    if (type === undefined || !/^[a-z0-9-]+\.(js|css|svg)$/.test(name) || !existsSync(path.join(dir, name))) {
      sendJson(ctx.res, 404, { code: "not_found", message: `no asset ${name}` });
      return;
    }
    let body = cache.get(name);
    if (body === undefined) {
      body = readFileSync(path.join(dir, name));
      cache.set(name, body);
    }
    ctx.res.writeHead(200, { "content-type": type, "content-length": body.length, "x-content-type-options": "nosniff", "cache-control": "no-cache" });
    ctx.res.end(body);
  });
  router.add("GET", "/favicon.ico", (ctx) => {
    ctx.res.writeHead(301, { location: "/assets/favicon.svg", "cache-control": "max-age=86400" });
    ctx.res.end();
  });
}
