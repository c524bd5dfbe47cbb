import { execFileSync } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import { maskArtifactNames } from "../../runners/agent/artifact-names.js";
import { SecretMasker } from "../../src/runs/secret-masker.js";

/**
 * Forms the end-to-end scan (secret-sinks.test.ts) found unmasked, each checked against the real
 * program that writes it: Python's `urllib.parse.quote` and `quote_plus` (strict RFC 3986, as curl
 * and Go's QueryEscape), and Python's `repr` (printing `os.environ`, a dict or a list).
 */

const VALUES = [`it's "q" \\n\\back\\ 🔑 ünï ~!*()-x`, "only 'single quotes' here", 'tab\there "and" \u0001 ctl', "plain-token_0123"];

/** What Python prints for each value: quote, quote_plus and the inside of repr. */
function pythonForms(values: string[]): Array<{ quote: string; quotePlus: string; repr: string }> {
  const script = `import json, sys, urllib.parse as u
vals = json.load(sys.stdin)
print(json.dumps([{"quote": u.quote(v, safe=""), "quotePlus": u.quote_plus(v), "repr": repr(v)[1:-1]} for v in vals]))`;
  return JSON.parse(execFileSync("python3", ["-c", script], { input: JSON.stringify(values), encoding: "utf8" })) as Array<{ quote: string; quotePlus: string; repr: string }>;
}

describe("secret forms programs print", () => {
  const printed = pythonForms(VALUES);

  it("masks strict RFC 3986 percent-encoding (Python quote and quote_plus), which encodeURIComponent and form encoding differ from", () => {
    for (const [i, value] of VALUES.entries()) {
      const masker = new SecretMasker([value]);
      const { quote, quotePlus } = printed[i] as (typeof printed)[number];
      expect(masker.maskText(`url=${quote}&x=${quotePlus}\n`)).toBe("url=***&x=***\n");
      expect(masker.maskText(quote.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()))).toBe("***");
    }
    // The value with `'` and `~`: encodeURIComponent leaves `'`, form encoding encodes `~`, Python does neither.
    const first = printed[0] as (typeof printed)[number];
    expect(first.quote).toContain("%27");
    expect(first.quote).toContain("~");
  });

  it("masks Python's repr of a value with quotes, backslashes and control characters (print(os.environ), a dict)", () => {
    for (const [i, value] of VALUES.entries()) {
      const { repr } = printed[i] as (typeof printed)[number];
      expect(new SecretMasker([value]).maskText(`{'TOKEN': '${repr}'}\n`)).toBe("{'TOKEN': '***'}\n");
    }
  });

  it("uploads an artifact whose path holds a secret under the masked path, and never two files under one name", () => {
    const masker = new SecretMasker(["ghp_secretvalue42"]);
    const warnings: string[] = [];
    const files = [{ rel: "out/a.txt" }, { rel: "out/token-ghp_secretvalue42.txt" }, { rel: "out/ghp_secretvalue42/x.bin" }, { rel: "out/token-***.txt" }];
    const named = maskArtifactNames(files, (t) => masker.maskText(t), (w) => warnings.push(w), "artifact");
    expect(named.map((f) => f.rel)).toEqual(["out/a.txt", "out/token-***.txt", "out/***/x.bin"]);
    expect(warnings.join("")).not.toContain("ghp_secretvalue42");
    expect(warnings).toEqual([
      "[dstack] warning: the path of a file contains a secret: the artifact is uploaded as out/token-***.txt\n",
      "[dstack] warning: the path of a file contains a secret: the artifact is uploaded as out/***/x.bin\n",
      "[dstack] warning: artifact file out/token-***.txt skipped: another file's path masks to the same name\n",
    ]);
  });
});
