import { describe, expect, it } from "@jest/globals";
import os from "node:os";
import { runCliInProcess } from "./cli-process.js";

/** `dstack tokens` argument checks made before any server is asked; listing and revoking against a service are in test/api/github-sign-in.test.ts. */

describe("dstack tokens revoke", () => {
  it.each([[""], ["  "]])("refuses an empty id %p in one line with exit 2, asking nothing of the server", async (id) => {
    // Checked before the configuration is read: with no token or server set up, a request would fail otherwise (exit 3 or 5).
    const res = await runCliInProcess(["tokens", "revoke", id], os.tmpdir());
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("dstack: no token id: give the id `dstack tokens list` shows\n");
  });
});
