import type { RunJson } from "../api/v1/run-json.js";
import type { CommandContext } from "./command-context.js";
import { paintFor } from "./connect.js";
import { ExitCode } from "./exit-code.js";
import { statusColor } from "./format.js";

/** One line on stderr saying how the followed run ended; the exit code: 0 only for `done`. */
export function reportEnd(ctx: Pick<CommandContext, "io" | "tty" | "env">, run: RunJson): ExitCode {
  const paint = paintFor(ctx, "err");
  const why = run.reason !== undefined && run.status !== "done" ? `: ${run.reason}` : "";
  ctx.io.err(`dstack: run ${run.id} (${run.workflow}) ${paint(statusColor(run.status), run.status)}${why}\n`);
  return run.status === "done" ? ExitCode.ok : ExitCode.failure;
}
