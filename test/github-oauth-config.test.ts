import { describe, expect, it } from "@jest/globals";
import { loadConfig } from "../src/config.js";
import { ConfigError } from "../src/errors.js";
import { TEST_PRIVATE_KEY } from "./helpers/test-keys.js";

/** GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET ("Sign in with GitHub"): validated with the GitHub App they belong to. */

const BASE = { DSTACK_DATA_DIR: "/tmp/dstack-config-test" };
const APP = { APP_ID: "12", PRIVATE_KEY: TEST_PRIVATE_KEY, WEBHOOK_SECRET: "s3cret" };
const OAUTH = { GITHUB_CLIENT_ID: "Iv1.0123456789abcdef", GITHUB_CLIENT_SECRET: "client-secret-value" };

function problems(env: Record<string, string>): string {
  try {
    loadConfig({ ...BASE, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return "";
}

describe("Sign in with GitHub configuration", () => {
  it("reads the client with the app, and GitHub's web and API hosts (github.com by default)", () => {
    const config = loadConfig({ ...BASE, ...APP, ...OAUTH });
    expect(config.github?.oauth).toEqual({ clientId: "Iv1.0123456789abcdef", clientSecret: "client-secret-value" });
    expect(config.github?.webUrl).toBe("https://github.com");
    expect(config.github?.apiBaseUrl).toBe("https://api.github.com");
  });

  it("uses {protocol}://{host} for the OAuth pages and /api/v3 for the API on GitHub Enterprise", () => {
    const config = loadConfig({ ...BASE, ...APP, ...OAUTH, GHE_HOST: "ghe.example.com:8443", GHE_PROTOCOL: "https" });
    expect(config.github?.webUrl).toBe("https://ghe.example.com:8443");
    expect(config.github?.apiBaseUrl).toBe("https://ghe.example.com:8443/api/v3");
  });

  it("is off without the two variables", () => {
    expect(loadConfig({ ...BASE, ...APP }).github?.oauth).toBeUndefined();
  });

  it("refuses one variable without the other, naming the missing one", () => {
    expect(problems({ ...APP, GITHUB_CLIENT_ID: OAUTH.GITHUB_CLIENT_ID })).toContain(
      `"Sign in with GitHub" needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET together; missing: GITHUB_CLIENT_SECRET`,
    );
    expect(problems({ ...APP, GITHUB_CLIENT_SECRET: OAUTH.GITHUB_CLIENT_SECRET })).toContain("missing: GITHUB_CLIENT_ID");
  });

  it("refuses the client without the GitHub App, and a malformed client id, in one message with the other problems", () => {
    const message = problems({ GITHUB_CLIENT_ID: "not an id", GITHUB_CLIENT_SECRET: "hunter2-client-secret", DSTACK_ROLE: "bogus" });
    expect(message).toContain("GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET need the GitHub App configured too");
    expect(message).toContain(`GITHUB_CLIENT_ID must be the app's client id (e.g. Iv1.0123abcd...), got "not an id"`);
    expect(message).toContain("DSTACK_ROLE must be one of");
    expect(message).not.toContain("hunter2-client-secret");
  });
});
