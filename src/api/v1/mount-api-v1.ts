import type { Router } from "../../http/router.js";
import type { ApiV1Deps } from "./api-v1-deps.js";
import { mountApproveRoute } from "./approve-route.js";
import { mountArtifactsRoutes } from "./artifacts-routes.js";
import { mountLogsRoutes } from "./logs-routes.js";
import { mountOpenApiRoute } from "./openapi-route.js";
import { mountRerunRoute } from "./rerun-route.js";
import { mountRunsRoutes } from "./runs-routes.js";
import { mountSecretsRoutes } from "./secrets-routes.js";
import { mountTagsRoutes } from "./tags-routes.js";
import { mountUserTokensRoutes } from "./user-tokens-routes.js";

/**
 * The HTTP API of the CLI, `/api/v1` (src/api/v1/openapi.json): runs, logs, artifacts, tags and
 * secrets, behind the API token; JSON errors `{code, message}` from the router.
 */
export function mountApiV1(router: Router, deps: ApiV1Deps): void {
  mountOpenApiRoute(router);
  // Literal paths before `/runs/:id`: the router takes the first match.
  mountLogsRoutes(router, deps);
  mountArtifactsRoutes(router, deps);
  mountRunsRoutes(router, deps);
  mountRerunRoute(router, deps);
  mountApproveRoute(router, deps);
  mountTagsRoutes(router, deps);
  mountSecretsRoutes(router, deps);
  mountUserTokensRoutes(router, deps);
}
