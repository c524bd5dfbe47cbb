#!/usr/bin/env node
// The `dstack` command: runs the CLI compiled into dist/ by `npm run build` (src/cli/main.ts).
const entry = new URL("../dist/src/cli/main.js", import.meta.url);

let cli;
try {
  cli = await import(entry.href);
} catch (error) {
  if (error instanceof Error && "code" in error && error.code === "ERR_MODULE_NOT_FOUND" && error.message.includes(entry.pathname)) {
    process.stderr.write(`dstack: the CLI is not built (${entry.pathname} is missing); run \`npm run build\` in ${new URL("..", import.meta.url).pathname}\n`);
    process.exit(2);
  }
  throw error;
}
process.exitCode = await cli.main(process.argv.slice(2));
