import { describe, expect, it } from "@jest/globals";
import { isHandled } from "../../src/github/is-handled.js";

const comment = (body: string, type = "User") => ({ action: "created", comment: { body, user: { type } } });

describe("isHandled", () => {
  it("keeps comments with a line starting with /dstack, indented or not", () => {
    expect(isHandled("issue_comment", comment("/dstack run train"))).toBe(true);
    expect(isHandled("issue_comment", comment("please:\r\n  /dstack help"))).toBe(true);
    expect(isHandled("issue_comment", comment("/dstack"))).toBe(true);
  });

  it("keeps a command written in capitals, as parseCommands reads it", () => {
    expect(isHandled("issue_comment", comment("/DSTACK run train"))).toBe(true);
    expect(isHandled("issue_comment", comment("thanks\r/Dstack help"))).toBe(true);
  });

  it("drops comments without a command, with /dstack mid-line or as a prefix of another word", () => {
    expect(isHandled("issue_comment", comment("see the /dstack docs"))).toBe(false);
    expect(isHandled("issue_comment", comment("/dstackrun train"))).toBe(false);
    expect(isHandled("issue_comment", comment("LGTM"))).toBe(false);
  });

  it("drops edited and deleted comments and bots' comments", () => {
    expect(isHandled("issue_comment", { ...comment("/dstack run x"), action: "edited" })).toBe(false);
    expect(isHandled("issue_comment", { ...comment("/dstack run x"), action: "deleted" })).toBe(false);
    expect(isHandled("issue_comment", comment("/dstack run x", "Bot"))).toBe(false);
  });

  it("keeps pushes, tag events and check-run clicks; drops events the app does not handle", () => {
    expect(isHandled("push", {})).toBe(true);
    expect(isHandled("create", {})).toBe(true);
    expect(isHandled("delete", {})).toBe(true);
    expect(isHandled("check_run", { action: "rerequested" })).toBe(true);
    expect(isHandled("check_run", { action: "requested_action" })).toBe(true);
    expect(isHandled("check_run", { action: "completed" })).toBe(false);
    expect(isHandled("star", { action: "created" })).toBe(false);
    expect(isHandled("pull_request", { action: "closed" })).toBe(false);
  });

  it("keeps new head commits of forks' pull requests only", () => {
    const pr = (action: string, head: string) => ({ action, repository: { full_name: "acme/ml" }, pull_request: { head: { repo: { full_name: head } } } });
    expect(isHandled("pull_request", pr("synchronize", "mallory/ml"))).toBe(true);
    expect(isHandled("pull_request", pr("opened", "mallory/ml"))).toBe(true);
    expect(isHandled("pull_request", pr("synchronize", "acme/ml"))).toBe(false);
    expect(isHandled("pull_request", pr("closed", "mallory/ml"))).toBe(false);
  });
});
