import type { Command } from "commander";
import { UnauthorizedError } from "../../errors.js";
import { ApiClient } from "../api-client.js";
import { loadCliConfig, normaliseUrl, readStored, writeStored, type CliConfig } from "../cli-config.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-code.js";
import { readSecretValue } from "../read-secret.js";
import { ServerUnreachableError } from "../server-unreachable-error.js";

/**
 * `dstack config [--url URL] [--token [TOKEN]]`: stores the server and its API token in the user's
 * config file (0600); without options, shows what is in effect and where it comes from.
 */
export function registerConfig(program: Command, ctx: CommandContext): void {
  program
    .command("config")
    .description("set the server URL and API token (stored in $XDG_CONFIG_HOME/dstack/config.json, mode 0600; DSTACK_URL and DSTACK_TOKEN override it); without options, show them")
    .option("--url <url>", "the dstack server, e.g. http://localhost:3000")
    .option("--token [token]", "the service's API token (DSTACK_API_TOKEN); without a value, read from stdin or a hidden prompt")
    .option("--json", "print the configuration in effect as JSON (the token redacted)")
    .action(async (options: { url?: string; token?: string | boolean; json?: boolean }) => {
      const current = await loadCliConfig(ctx.env);
      if (options.url !== undefined || options.token !== undefined) {
        const stored = await readStored(current.file);
        if (options.url !== undefined) stored.url = normaliseUrl(options.url, "--url");
        if (options.token !== undefined) stored.token = typeof options.token === "string" ? options.token : await readSecretValue(ctx, "API token: ");
        await writeStored(current.file, stored);
        ctx.io.err(`dstack: saved to ${current.file}\n`);
      }
      const shown = await loadCliConfig(ctx.env);
      // What was just set is tried at once, so a mistyped token is found now, not at the next `dstack run`.
      const refused = options.url !== undefined || options.token !== undefined ? await checkWithServer(ctx, shown) : false;
      const token = shown.token === undefined ? "not set" : `${shown.token.slice(0, 4)}… (from ${shown.tokenSource === "env" ? "DSTACK_TOKEN" : shown.file})`;
      const url = `${shown.url} (${shown.urlSource === "env" ? "from DSTACK_URL" : shown.urlSource === "file" ? `from ${shown.file}` : "default"})`;
      if (options.json === true) {
        ctx.io.out(`${JSON.stringify({ url: shown.url, urlSource: shown.urlSource, tokenSet: shown.token !== undefined, tokenSource: shown.tokenSource ?? null, file: shown.file }, null, 2)}\n`);
      } else {
        ctx.io.out(`url:   ${url}\ntoken: ${token}\n`);
      }
      ctx.exit(refused ? ExitCode.unauthorized : ExitCode.ok);
    });
}

/**
 * Asks the server for one run with the configuration in effect and says what it answered; true when
 * it refused the token. A server that does not answer is only a note: configuring before the
 * service is up is fine.
 */
async function checkWithServer(ctx: CommandContext, config: CliConfig): Promise<boolean> {
  if (config.token === undefined) return false;
  try {
    await new ApiClient(config).json("/api/v1/runs", { query: { limit: 1 } });
    ctx.io.err(`dstack: ${config.url} accepts the token\n`);
    return false;
  } catch (err) {
    if (err instanceof UnauthorizedError) {
      ctx.io.err(`dstack: ${config.url} refuses the token: ${err.message}; set the right one with \`dstack config --token\` (the service keeps its token in $DSTACK_DATA_DIR/keys/api-token), or make a personal one with \`dstack login\`\n`);
      return true;
    }
    if (err instanceof ServerUnreachableError) {
      ctx.io.err(`dstack: note: ${err.message}; the token is checked when it answers\n`);
      return false;
    }
    throw err;
  }
}
