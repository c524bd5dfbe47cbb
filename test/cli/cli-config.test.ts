import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { normaliseUrl } from "../../src/cli/cli-config.js";
import { ConfigError } from "../../src/errors.js";
import { runCliInProcess } from "./cli-process.js";

describe("the CLI's server URL and version", () => {
  it("takes the service's address however it was pasted: trailing slashes, or the API's own address", () => {
    expect(normaliseUrl("http://localhost:3000/", "--url")).toBe("http://localhost:3000");
    expect(normaliseUrl("http://localhost:3000/api/v1", "DSTACK_URL")).toBe("http://localhost:3000");
    expect(normaliseUrl("https://ci.example.com/dstack/api/v1/", "DSTACK_URL")).toBe("https://ci.example.com/dstack");
    expect(() => normaliseUrl("localhost:3000", "--url")).toThrow(ConfigError);
    expect(() => normaliseUrl("ftp://host", "--url")).toThrow("must be http:// or https://");
  });

  it("prints its version, the package's, and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      expect(await runCliInProcess([flag], process.cwd())).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    }
  });
});
