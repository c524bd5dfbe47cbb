import { describe, expect, it } from "@jest/globals";
import { loadConfig } from "../src/config.js";

const BASE = { DSTACK_DATA_DIR: "/tmp/dstack-config-test" };

describe("loadConfig", () => {
  it("reports a bad number together with every other bad variable, in one message", () => {
    expect(() => loadConfig({ ...BASE, PORT: "abc", DSTACK_MAX_RUNS: "0", DSTACK_BACKEND: "gce", DSTACK_ROLE: "both", REDIS_URL: "http://x" })).toThrow(
      [
        "invalid configuration:",
        '- PORT must be a positive integer, got "abc"',
        '- DSTACK_MAX_RUNS must be a positive integer, got "0"',
        '- DSTACK_BACKEND must be one of local, ec2, got "gce"',
        '- DSTACK_ROLE must be one of all, web, worker, got "both"',
        '- REDIS_URL must start with redis:// or rediss://, got "http://x"',
      ].join("\n"),
    );
  });
});
