import { describe, expect, it } from "@jest/globals";
import { CommanderError } from "commander";
import { ExitCode, exitCodeFor } from "../../src/cli/exit-code.js";
import { FileReadError } from "../../src/cli/file-read-error.js";
import { ServerUnreachableError } from "../../src/cli/server-unreachable-error.js";
import { ConfigError, DstackError, InvalidInputError, NotFoundError, UnauthorizedError } from "../../src/errors.js";

describe("exitCodeFor", () => {
  it("maps each typed error to its exit code, and anything else to `internal`", () => {
    const cases: Array<[unknown, ExitCode]> = [
      [new NotFoundError("no `.dstack/` folder"), 2],
      [new InvalidInputError("bad"), 2],
      [new FileReadError(".dstack/workflows.yaml", Object.assign(new Error("denied"), { code: "EACCES" })), 2],
      [new CommanderError(1, "commander.unknownOption", "unknown option"), 2],
      [new CommanderError(0, "commander.helpDisplayed", "(outputHelp)"), 0],
      [new ConfigError("DSTACK_URL is not a URL"), 3],
      [new UnauthorizedError("token refused"), 4],
      [new ServerUnreachableError("http://127.0.0.1:1", "connection refused"), 5],
      [new DstackError("other", "something else"), 1],
      [new TypeError("x is undefined"), 70],
      ["a string", 70],
    ];
    expect(cases.map(([error]) => exitCodeFor(error))).toEqual(cases.map(([, code]) => code));
    expect(ExitCode).toEqual({ ok: 0, failure: 1, usage: 2, config: 3, unauthorized: 4, unreachable: 5, internal: 70 });
  });

  it("names the file and the system's reason when a file cannot be read", () => {
    expect(new FileReadError(".dstack/workflows.yaml", Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })).message).toBe(
      "cannot read `.dstack/workflows.yaml` (EACCES); check that it is a readable file",
    );
  });
});
