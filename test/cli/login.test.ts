import { describe, expect, it } from "@jest/globals";
import os from "node:os";
import { pastedToken } from "../../src/cli/commands/login.js";
import { runCliInProcess } from "./cli-process.js";

/**
 * `dstack login` refuses a label or expiry the settings page would refuse before it sends the user to
 * the browser (so before any server is asked), in one line naming the flag, with exit 2; it takes the
 * token from the command the settings page shows as well. The whole flow against a service is in
 * test/api/github-sign-in.test.ts.
 */

describe("dstack login", () => {
  it.each([["0d"], ["30x"], ["3651d"], [""]])("refuses --expires-in %p, naming the flag", async (value) => {
    const res = await runCliInProcess(["login", "--url", "http://127.0.0.1:9", "--expires-in", value], os.tmpdir());
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`dstack: bad --expires-in ${JSON.stringify(value)}: write a number of days or hours (\`30d\`, \`12h\`, at most 3650d) or \`never\`\n`);
  });

  it.each([
    ["a control character", "box\u0001"],
    ["a zero-width space", "bo\u200bx"],
    ["a right-to-left override", "box\u202e1"],
  ])("refuses a --label with %s before sending anyone to the browser", async (_what, label) => {
    const res = await runCliInProcess(["login", "--url", "http://127.0.0.1:9", "--label", label], os.tmpdir());
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`dstack: bad --label ${JSON.stringify(label)}: no control or invisible characters (zero-width, bidirectional)\n`);
  });

  it("refuses a --label longer than the page takes", async () => {
    const res = await runCliInProcess(["login", "--url", "http://127.0.0.1:9", "--label", "x".repeat(65)], os.tmpdir());
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(`dstack: bad --label "${"x".repeat(65)}": at most 64 characters\n`);
  });
});

describe("the token `dstack login` reads", () => {
  it.each([
    ["the token alone", "dstack_u_abc-DEF_123\n", "dstack_u_abc-DEF_123"],
    ["the command the settings page shows", "dstack config --url http://localhost:3000 --token dstack_u_abc-DEF_123\n", "dstack_u_abc-DEF_123"],
    ["that command with --token=", "  dstack config --token=dstack_u_xyz --url http://h", "dstack_u_xyz"],
  ])("is taken from %s", (_what, pasted, token) => {
    expect(pastedToken(pasted)).toBe(token);
  });
});
