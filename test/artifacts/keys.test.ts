import {
  assertSafeKey,
  assertSafePrefix,
  compareKeys,
  runArtifactKey,
  runArtifactsPrefix,
  runLogKey,
} from "../../src/artifacts/keys.js";
import { InvalidInputError } from "../../src/errors.js";

describe("assertSafeKey", () => {
  it.each(["a", "runs/1/artifacts/out/model.pt", "a b/c+d/é.txt", ".hidden/x", "a..b", "...", "-x"])(
    "accepts %j",
    (key) => {
      expect(() => assertSafeKey(key)).not.toThrow();
    },
  );

  it.each([
    ["", /empty/],
    ["/abs", /absolute/],
    ["a/../b", /`\.\.` segment/],
    ["..", /`\.\.` segment/],
    ["./a", /`\.` segment/],
    ["a//b", /empty segment/],
    ["a/", /empty segment/],
    ["a\\b", /backslash/],
    ["a\0b", /NUL/],
    ["x".repeat(1025), /longer than 1024 bytes/],
  ])("refuses %j, saying why", (key, why) => {
    expect(() => assertSafeKey(key)).toThrow(InvalidInputError);
    expect(() => assertSafeKey(key)).toThrow(why);
  });
});

describe("assertSafePrefix", () => {
  it("accepts everything (the empty prefix), a partial name and a trailing slash", () => {
    for (const prefix of ["", "runs/1", "runs/1/", "runs/1/artifacts/"]) {
      expect(() => assertSafePrefix(prefix)).not.toThrow();
    }
  });

  it("refuses what could climb out or alias", () => {
    for (const prefix of ["/", "../", "a/../", "a//", "a\\", "./"]) {
      expect(() => assertSafePrefix(prefix)).toThrow(InvalidInputError);
    }
  });
});

describe("run keys", () => {
  it("places a run's artifacts and log under runs/<runId>/", () => {
    expect(runArtifactKey("r-42", "out/result.txt")).toBe("runs/r-42/artifacts/out/result.txt");
    expect(runArtifactsPrefix("r-42")).toBe("runs/r-42/artifacts/");
    expect(runLogKey("r-42")).toBe("runs/r-42/log.txt");
  });

  it("refuses a run id or artifact path that would escape the run's folder", () => {
    expect(() => runArtifactKey("r-42", "../../r-43/log.txt")).toThrow(InvalidInputError);
    expect(() => runArtifactKey("r-42", "/etc/passwd")).toThrow(InvalidInputError);
    for (const runId of ["", "..", "a/b", "."]) {
      expect(() => runLogKey(runId)).toThrow(InvalidInputError);
      expect(() => runArtifactsPrefix(runId)).toThrow(InvalidInputError);
    }
  });
});

describe("compareKeys", () => {
  it("orders by UTF-8 bytes as S3 does, not by UTF-16 code units", () => {
    // U+1F600 is the surrogate pair D83D DE00 in UTF-16, before U+FF5E; in UTF-8 it is F0 9F 98 80,
    // after U+FF5E's EF BD 9E.
    const keys = ["\u{1f600}", "\uff5e", "a", "B"];
    expect([...keys].sort(compareKeys)).toEqual(["B", "a", "\uff5e", "\u{1f600}"]);
    expect([...keys].sort()).toEqual(["B", "a", "\u{1f600}", "\uff5e"]);
  });
});
