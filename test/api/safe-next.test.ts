import { describe, expect, it } from "@jest/globals";
import { safeNext } from "../../src/api/page-response.js";

/**
 * Where the browser goes after signing in (`?next=`, the login form's hidden field, the OAuth state):
 * resolved as a browser resolves it, it must stay on this service. The WHATWG URL parser is the one
 * browsers use, tab and line-break stripping included.
 */
const ORIGIN = "https://dstack.example";

function landsOn(next: string | null): string {
  return new URL(safeNext(next), ORIGIN).origin;
}

describe("safeNext", () => {
  it("keeps same-site paths with their query", () => {
    for (const p of ["/", "/runs/abc", "/?repo=acme%2Fweb&status=done", "/repos/acme/web/settings#tokens"]) expect(safeNext(p)).toBe(p);
  });

  it("never sends the browser to another site, whatever the spelling", () => {
    const hostile = [
      "//evil.example/",
      "/\\evil.example/",
      "https://evil.example/",
      "/\t/evil.example/",
      "/\n/evil.example/",
      "/\r\n/evil.example/",
      "/\t\\evil.example/",
      "\t//evil.example/",
      " //evil.example/",
      "javascript:alert(1)",
      "",
    ];
    for (const next of hostile) expect({ next, origin: landsOn(next) }).toEqual({ next, origin: ORIGIN });
    expect(safeNext("/\t/evil.example/")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
