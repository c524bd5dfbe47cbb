import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import type { CommandContext } from "../command-context.js";
import { connect, paintFor } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { formatAge, formatTable } from "../format.js";

/** A personal CLI token as `GET /api/v1/user/tokens` lists it (never the token itself). */
export interface CliTokenJson {
  id: string;
  label: string;
  createdAt: string;
  /** null: no expiry (asked for with `never`). */
  expiresAt: string | null;
  expired: boolean;
  /** A token made before tokens expired: `expiresAt` is 90 days after its creation. */
  expiryImplied?: boolean;
  lastUsedAt: string | null;
  /** The token this request carried. */
  current: boolean;
}

/**
 * `dstack tokens list|revoke <id>`: the personal CLI tokens of the GitHub user whose token the CLI
 * uses. They are made on the settings page (`dstack login` leads there); a CLI token lists and revokes
 * them but cannot make more.
 */
export function registerTokens(program: Command, ctx: CommandContext): void {
  const tokens = program.command("tokens").description("list and revoke your personal CLI tokens (made on the service's settings page, see `dstack login`)");
  tokens
    .command("list")
    .description("list your CLI tokens: id, label, created, expires, last used; * marks the one this CLI uses")
    .option("--json", "print a JSON array of {id, label, createdAt, expiresAt, expired, expiryImplied, lastUsedAt, current}")
    .action(async (options: { json?: boolean }) => {
      const client = await connect(ctx);
      const { login, tokens: list } = await client.json<{ login: string; tokens: CliTokenJson[] }>("/api/v1/user/tokens");
      if (options.json === true) ctx.io.out(`${JSON.stringify(list, null, 2)}\n`);
      else {
        const now = Date.now();
        const rows = list.map((t) => [`${t.id}${t.current ? " *" : ""}`, t.label === "" ? "-" : t.label, t.createdAt.slice(0, 10), expiry(t), t.lastUsedAt === null ? "never" : formatAge(Date.parse(t.lastUsedAt), now)]);
        ctx.io.out(formatTable(["ID", "LABEL", "CREATED", "EXPIRES", "LAST USED"], rows, paintFor(ctx)));
        ctx.io.err(`${list.length} token${list.length === 1 ? "" : "s"} of @${login}; * is the one this CLI uses\n`);
      }
      ctx.exit(ExitCode.ok);
    });
  tokens
    .command("revoke")
    .description("revoke one of your CLI tokens (it stops working at once; revoking the one this CLI uses logs it out)")
    .argument("<id>", "the token's id, as `dstack tokens list` shows it")
    .action(async (id: string) => {
      // An empty id would name the list itself (`DELETE /api/v1/user/tokens/`), which the server refuses as a route.
      if (id.trim() === "") throw new InvalidInputError("no token id: give the id `dstack tokens list` shows");
      const client = await connect(ctx);
      await client.request(`/api/v1/user/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
      ctx.io.out(`revoked CLI token ${id}\n`);
      ctx.exit(ExitCode.ok);
    });
}

function expiry(t: CliTokenJson): string {
  if (t.expiresAt === null) return "no expiry";
  return `${t.expired ? "expired " : ""}${t.expiresAt.slice(0, 16).replace("T", " ")} UTC${t.expiryImplied === true ? " (implied)" : ""}`;
}
