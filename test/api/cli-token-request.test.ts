import { describe, expect, it } from "@jest/globals";
import { cliTokenRequest, CreateCliTokenBody, parseExpiresIn } from "../../src/api/cli-token-request.js";

/** What `POST /api/v1/user/tokens` (the settings page's form) takes as a token's label and expiry. */

describe("a CLI token's label", () => {
  it.each([
    ["a control character", "box\u0001"],
    ["a soft hyphen", "bu\u00adild"],
    ["a zero-width space", "bo\u200bx"],
    ["a right-to-left override, which reorders the rest of a `dstack tokens list` row", "box\u202e1"],
    ["a byte-order mark inside it (trim drops one at the ends)", "bo\ufeffx"],
  ])("refuses %s", (_what, label) => {
    const parsed = CreateCliTokenBody.safeParse({ label });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)).toEqual(["no control or invisible characters (zero-width, bidirectional)"]);
  });

  it.each([["build-box"], ["Ünïcødé laptop"], ["GPU box 🚀"], ["ノートPC"]])("takes %p as it is", (label) => {
    expect(CreateCliTokenBody.parse({ label })).toEqual({ label });
  });

  it("trims the label and fills in the defaults", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(cliTokenRequest(CreateCliTokenBody.parse({ label: "  " }), now)).toEqual({ label: "cli", expiresAt: now + 90 * 24 * 3600_000 });
  });
});

describe("parseExpiresIn", () => {
  it("names the value as its caller calls it", () => {
    expect(() => parseExpiresIn("soon")).toThrow('bad expiresIn "soon": write a number of days or hours (`30d`, `12h`, at most 3650d) or `never`');
    expect(() => parseExpiresIn("soon", "--expires-in")).toThrow('bad --expires-in "soon"');
    expect(parseExpiresIn("12h")).toBe(12 * 3600_000);
    expect(parseExpiresIn("never")).toBeNull();
  });
});
