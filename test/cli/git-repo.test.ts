import { describe, expect, it } from "@jest/globals";
import { repoFromRemoteUrl } from "../../src/cli/git-repo.js";

describe("repoFromRemoteUrl", () => {
  it.each([
    ["https://github.com/acme/train.git", "acme/train"],
    ["https://github.com/acme/train", "acme/train"],
    ["https://github.com/acme/train/", "acme/train"],
    ["git@github.com:acme/train.git", "acme/train"],
    ["ssh://git@ghe.example.com:2222/team/acme/train.git", "acme/train"],
    ["http://127.0.0.1:8080/acme/my.repo-1.git", "acme/my.repo-1"],
    ["/srv/git/acme/train.git", "acme/train"],
  ])("takes the last two path segments of %s", (url, repo) => {
    expect(repoFromRemoteUrl(url)).toBe(repo);
  });

  it("gives up on a URL with fewer than two segments or odd characters", () => {
    expect(repoFromRemoteUrl("train.git")).toBeUndefined();
    expect(repoFromRemoteUrl("https://host/acme/tr ain")).toBeUndefined();
  });
});
