import { execFileSync } from "node:child_process";
import { describe, expect, it } from "@jest/globals";
import { resolveRunRequest } from "../../src/runs/resolve-run-request.js";
import { shellContextAt } from "../../src/workflow/shell-context.js";

/**
 * A value given on the command line (`dstack run whoami --msg ...`, `/dstack run whoami ...`) is text,
 * wherever the repository's line puts it: outside quotes, inside "..." or inside '...'. Each line is
 * run by a real bash, and must print the value as given.
 */
const WORKFLOWS = `workflows:
  - name: whoami
    provider: bash
    commands:
      - echo plain \${{ msg }}
      - echo "double \${{ msg }}"
      - echo 'single \${{ msg }}'
      - echo "args \${{ run.args }}"
      - echo 'args \${{ run.args }}'
`;
const VARIABLES = "variables:\n  whoami:\n    msg: hi\n";
const HOSTILE = ["$(echo INJECTED)", "`echo INJECTED`", `it's "quoted" \\ $HOME`];

function commandsFor(argv: string[]): string[] {
  const files = [
    { path: ".dstack/workflows.yaml", text: WORKFLOWS },
    { path: ".dstack/variables.yaml", text: VARIABLES },
  ];
  const resolved = resolveRunRequest(files, argv);
  if (!resolved.ok) throw new Error(resolved.message);
  return (resolved.target as { commands: string[] }).commands;
}

function bash(line: string): string {
  return execFileSync("bash", ["-c", line], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/home/someone" } });
}

describe("command-line values in shell lines", () => {
  it.each(HOSTILE)("prints %j as given, outside quotes, inside double and inside single quotes", (value) => {
    const [plain, double, single] = commandsFor(["whoami", "--msg", value]);
    expect(bash(plain ?? "")).toBe(`plain ${value}\n`);
    expect(bash(double ?? "")).toBe(`double ${value}\n`);
    expect(bash(single ?? "")).toBe(`single ${value}\n`);
  });

  it.each(HOSTILE)("prints `${{ run.args }}` %j as given inside double and single quotes", (value) => {
    const [, , , double, single] = commandsFor(["whoami", value, "two"]);
    expect(bash(double ?? "")).toBe(`args ${value} two\n`);
    expect(bash(single ?? "")).toBe(`args ${value} two\n`);
  });

  it("keeps the repository's own values as shell text", () => {
    expect(commandsFor(["whoami"]).slice(0, 3)).toEqual(["echo plain hi", 'echo "double hi"', "echo 'single hi'"]);
  });
});

describe("shellContextAt", () => {
  it("follows quotes and backslash escapes as sh does", () => {
    const line = `a "b \\" c" 'd " e' \\' f`;
    expect(shellContextAt(line, line.indexOf("b"))).toBe("double");
    expect(shellContextAt(line, line.indexOf("c"))).toBe("double");
    expect(shellContextAt(line, line.indexOf("d"))).toBe("single");
    expect(shellContextAt(line, line.indexOf("e"))).toBe("single");
    expect(shellContextAt(line, line.indexOf("f"))).toBe("plain");
  });
});
