import { describe, expect, it } from "@jest/globals";
import { parseCommands } from "../../src/github/commands.js";

/** What `parseCommands` reads as commands in comments written the ways people write them on GitHub. */

/** The run commands' argument lists, in order. */
const runs = (body: string) => parseCommands(body).flatMap((c) => (c.kind === "run" ? [c.args] : []));

describe("parseCommands", () => {
  it("runs every command line of a comment, with CRLF, lone CR or LF line ends", () => {
    expect(runs("/dstack run prep\r\n/dstack run train --epochs 3\r\n")).toEqual([["prep"], ["train", "--epochs", "3"]]);
    expect(runs("/dstack run prep\r/dstack run train")).toEqual([["prep"], ["train"]]);
  });

  it("never runs a command quoted from an earlier comment", () => {
    expect(runs("> /dstack run prep\nthanks!")).toEqual([]);
    expect(runs("> ```\n> /dstack run prep\n> ```\n/dstack run train")).toEqual([["train"]]);
  });

  it("never runs a command shown in a fenced code block, however the fences nest", () => {
    expect(runs("```\n/dstack run prep\n```")).toEqual([]);
    expect(runs("~~~bash\n/dstack run prep\n~~~")).toEqual([]);
    // A longer fence shows shorter ones inside it; a tilde line does not close a backtick fence.
    expect(runs("````markdown\n```\n/dstack run prep\n```\n````\n/dstack run train")).toEqual([["train"]]);
    expect(runs("```\n~~~\n/dstack run prep\n```\n/dstack run train")).toEqual([["train"]]);
    // "```x" with text after the closing run is no closing fence.
    expect(runs("```\n``` not closed\n/dstack run prep\n```\n/dstack run train")).toEqual([["train"]]);
  });

  it("reads a line of inline code with triple backticks as text, not as a fence that hides the next lines", () => {
    expect(runs("```nvidia-smi``` fails on the runner\n/dstack run prep")).toEqual([["prep"]]);
  });

  it("never runs a command hidden in an HTML comment, which the rendered comment does not show", () => {
    expect(runs("<!--\n/dstack run prep\n-->\n/dstack run train")).toEqual([["train"]]);
    expect(runs("<!-- note --> <!-- open\n/dstack run prep\nstill hidden -->")).toEqual([]);
    expect(runs("<!-- a closed comment -->\n/dstack run train")).toEqual([["train"]]);
  });

  it("reads `/dstack` and the verb in any case", () => {
    expect(runs("/DSTACK RUN prep\n/Dstack run train")).toEqual([["prep"], ["train"]]);
    expect(parseCommands("/DStack Help")).toEqual([{ kind: "help", line: "/DStack Help" }]);
  });

  it("splits words at no-break and other Unicode spaces, but keeps them inside quotes", () => {
    expect(runs("/dstack\u00a0run\u00a0train\u2009--epochs\u00a03")).toEqual([["train", "--epochs", "3"]]);
    expect(runs("/dstack run train --msg 'a\u00a0b'")).toEqual([["train", "--msg", "a\u00a0b"]]);
  });

  it("names the command meant by a verb with trailing punctuation or a typo", () => {
    const [help] = parseCommands("/dstack help.");
    expect(help).toMatchObject({ kind: "invalid", message: "unknown command `help.` — did you mean `help`?" });
    const [other] = parseCommands("/dstack deploy prod");
    expect(other).toMatchObject({ kind: "invalid", message: "unknown command `deploy`; the commands are run, stop, tag, approve and help" });
  });
});
