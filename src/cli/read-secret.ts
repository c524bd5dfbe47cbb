import { InvalidInputError } from "../errors.js";
import type { CommandContext } from "./command-context.js";

/**
 * A secret value not given on the command line: from a terminal, a prompt that echoes nothing;
 * else all of stdin, less one trailing newline (`echo $TOKEN | dstack secrets add NAME`).
 */
export async function readSecretValue(ctx: Pick<CommandContext, "stdin" | "io">, prompt: string): Promise<string> {
  const stdin = ctx.stdin;
  if (stdin === undefined) throw new InvalidInputError("no value given and nothing to read it from: pass it on stdin");
  if (stdin.isTTY === true && stdin.setRawMode !== undefined) return promptHidden(stdin as Required<NonNullable<CommandContext["stdin"]>>, ctx.io, prompt);
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  const value = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
  if (value === "") throw new InvalidInputError("the value read from stdin is empty");
  return value;
}

function promptHidden(stdin: Required<NonNullable<CommandContext["stdin"]>>, io: CommandContext["io"], prompt: string): Promise<string> {
  io.err(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      io.err("\n");
      if (err !== undefined) reject(err);
      else if (value === "") reject(new InvalidInputError("no value entered"));
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new InvalidInputError("cancelled"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}
