import os from "node:os";
import type { Command } from "commander";
import { CreateCliTokenBody, DEFAULT_CLI_TOKEN_EXPIRY, DEFAULT_CLI_TOKEN_LABEL, parseExpiresIn } from "../../api/cli-token-request.js";
import { InvalidInputError } from "../../errors.js";
import { ApiClient } from "../api-client.js";
import { loadCliConfig, normaliseUrl, readStored, writeStored } from "../cli-config.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-code.js";
import { readSecretValue } from "../read-secret.js";
import type { CliTokenJson } from "./tokens.js";

/**
 * `dstack login [--label NAME] [--expires-in 30d|never] [--url URL]`: a personal CLI token for this
 * machine. Tokens are made only in a browser signed in with GitHub (a token never mints another), so
 * this prints the settings page's address with the label and expiry filled in, reads the token the
 * page shows (hidden prompt, or stdin), checks it with the server and stores it like `dstack config`.
 */
export function registerLogin(program: Command, ctx: CommandContext): void {
  program
    .command("login")
    .description("make a personal CLI token for this machine on the service's settings page (signed in with GitHub) and store it")
    .option("--label <name>", "what to call the token (default: this machine's host name)")
    .option("--expires-in <time>", `when it stops working: days or hours (\`30d\`, \`12h\`) or \`never\` (default: ${DEFAULT_CLI_TOKEN_EXPIRY})`)
    .option("--url <url>", "the dstack server (default: the configured one)")
    .action(async (options: { label?: string; expiresIn?: string; url?: string }) => {
      const expiresIn = options.expiresIn ?? DEFAULT_CLI_TOKEN_EXPIRY;
      const label = options.label ?? (os.hostname() || DEFAULT_CLI_TOKEN_LABEL);
      refuseBadRequest(label, expiresIn);
      const current = await loadCliConfig(ctx.env);
      const url = options.url === undefined ? current.url : normaliseUrl(options.url, "--url");
      const page = new URL(`${url}/settings`);
      page.searchParams.set("token-label", label);
      page.searchParams.set("token-expires-in", expiresIn);
      ctx.io.err(`dstack: open ${page.href}#cli-h signed in with GitHub, press "Create a CLI token" and paste the token here\n`);
      const token = pastedToken(await readSecretValue(ctx, "CLI token: "));
      const { login, tokens } = await new ApiClient({ url, token, file: current.file }).json<{ login: string; tokens: CliTokenJson[] }>("/api/v1/user/tokens");
      const stored = await readStored(current.file);
      await writeStored(current.file, { ...stored, url, token });
      const made = tokens.find((t) => t.current);
      const until = made?.expiresAt == null ? "no expiry" : `expires ${made.expiresAt.slice(0, 10)}`;
      const overridden = current.tokenSource === "env" ? " (DSTACK_TOKEN is set and overrides it: unset it to use this token)" : "";
      ctx.io.err(`dstack: logged in to ${url} as @${login} with token ${made?.id ?? "?"} (${made?.label ?? label}, ${until}); saved to ${current.file}${overridden}\n`);
      ctx.exit(ExitCode.ok);
    });
}

/**
 * Refuses a label or expiry the settings page would refuse, before the user is sent to the browser,
 * naming the flag: a label with a control character would otherwise fail only once the form is sent.
 */
function refuseBadRequest(label: string, expiresIn: string): void {
  parseExpiresIn(expiresIn, "--expires-in");
  const checked = CreateCliTokenBody.shape.label.safeParse(label);
  if (!checked.success) throw new InvalidInputError(`bad --label ${JSON.stringify(label)}: ${checked.error.issues.map((i) => i.message).join("; ")}`);
}

/**
 * The token in what the user pasted: the token alone, or the whole `dstack config --url URL --token
 * TOKEN` line the settings page shows it in (copying that block is what the page invites).
 */
export function pastedToken(text: string): string {
  const trimmed = text.trim();
  return /(?:^|\s)--token[=\s]+(\S+)/.exec(trimmed)?.[1] ?? trimmed;
}
