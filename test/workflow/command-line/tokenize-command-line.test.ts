import { describe, expect, it } from "@jest/globals";
import { InvalidInputError } from "../../../src/errors.js";
import { tokenizeCommandLine } from "../../../src/workflow/index.js";

describe("tokenizeCommandLine", () => {
  it("splits on whitespace and honours quotes and escapes like a shell", () => {
    expect(tokenizeCommandLine(`run train  --gpu 2\t-e 'A=b c' "x \\"y\\" \\$HOME" a\\ b`)).toEqual(["run", "train", "--gpu", "2", "-e", "A=b c", 'x "y" $HOME', "a b"]);
    expect(tokenizeCommandLine(`bash -c "mkdir -p output && echo 'Hello, world!' > output/hello.txt"`)).toEqual([
      "bash",
      "-c",
      "mkdir -p output && echo 'Hello, world!' > output/hello.txt",
    ]);
  });

  it("keeps empty quoted arguments, joins adjacent quoted parts, and drops backslash-newlines", () => {
    expect(tokenizeCommandLine(`a "" '' b"c"'d'`)).toEqual(["a", "", "", "bcd"]);
    expect(tokenizeCommandLine("run train \\\n  --gpu 2")).toEqual(["run", "train", "--gpu", "2"]);
  });

  it("expands and executes nothing", () => {
    expect(tokenizeCommandLine("echo $(rm -rf /) `id` ; ls | wc *")).toEqual(["echo", "$(rm", "-rf", "/)", "`id`", ";", "ls", "|", "wc", "*"]);
    expect(tokenizeCommandLine("   ")).toEqual([]);
  });

  it("refuses an unterminated quote, naming its column", () => {
    expect(() => tokenizeCommandLine(`run "train`)).toThrow(new InvalidInputError("the double quote at column 5 is never closed; close it with \"", "invalid_command_line"));
    expect(() => tokenizeCommandLine(`a 'b`)).toThrow(/single quote at column 3/);
  });
});
