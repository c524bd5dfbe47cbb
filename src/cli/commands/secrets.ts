import type { Command } from "commander";
import { parseInput, SecretName } from "../../api/v1/schemas.js";
import type { CommandContext } from "../command-context.js";
import { connect, currentRepo, paintFor, repoPath } from "../connect.js";
import { ExitCode } from "../exit-code.js";
import { formatAge, formatTable } from "../format.js";
import { readSecretValue } from "../read-secret.js";

/** `dstack secrets list|add <name> [value]|delete <name>`: values go in, only names come out. */
export function registerSecrets(program: Command, ctx: CommandContext): void {
  const secrets = program.command("secrets").description("list, add and delete the repository's secrets (env vars of its runs; values are never shown)");
  secrets
    .command("list")
    .description("list the secrets' names")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .option("--json", "print a JSON array of {name, updatedAt}")
    .action(async (options: { repo?: string; json?: boolean }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      const { secrets: list } = await client.json<{ secrets: Array<{ name: string; updatedAt: string }> }>(`${repoPath(repo)}/secrets`);
      if (options.json === true) ctx.io.out(`${JSON.stringify(list, null, 2)}\n`);
      else if (list.length === 0) ctx.io.err(`dstack: ${repo} has no secrets\n`);
      else {
        const now = Date.now();
        ctx.io.out(formatTable(["NAME", "UPDATED"], list.map((s) => [s.name, formatAge(Date.parse(s.updatedAt), now)]), paintFor(ctx)));
      }
      ctx.exit(ExitCode.ok);
    });
  secrets
    .command("add")
    .description("add or replace a secret; without VALUE it is read from stdin, or a prompt that does not echo")
    .argument("<name>", "the environment variable name runs see")
    .argument("[value]", "the value (beware: visible in shell history; prefer stdin or the prompt)")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .action(async (name: string, value: string | undefined, options: { repo?: string }) => {
      // The server's check, made before the value is asked for: a typed-in value must not be lost to a bad name.
      parseInput(SecretName, name, "secret name");
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      const secret = value ?? (await readSecretValue(ctx, `value of ${name}: `));
      await client.request(`${repoPath(repo)}/secrets/${encodeURIComponent(name)}`, { method: "PUT", json: { value: secret } });
      ctx.io.out(`saved secret ${name} for ${repo}\n`);
      ctx.exit(ExitCode.ok);
    });
  secrets
    .command("delete")
    .description("delete a secret")
    .argument("<name>", "the secret's name")
    .option("--repo <owner/name>", "the repository (default: from the origin remote)")
    .action(async (name: string, options: { repo?: string }) => {
      const repo = await currentRepo(ctx, options.repo);
      const client = await connect(ctx);
      await client.request(`${repoPath(repo)}/secrets/${encodeURIComponent(name)}`, { method: "DELETE" });
      ctx.io.out(`deleted secret ${name}\n`);
      ctx.exit(ExitCode.ok);
    });
}
