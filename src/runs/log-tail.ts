/** Strips ANSI escape sequences (colours, cursor moves) that GitHub would show as garbage. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g, "");
}

export interface TailWindow {
  text: string;
  /** Bytes of the log before `text` that are not shown. */
  omittedBytes: number;
}

/**
 * The last part of a log that fits in `maxChars`, starting at a line boundary when one is near,
 * with carriage-return progress bars collapsed to their final state and ANSI codes removed.
 * `tail` is the end of the log (`offset` = where it starts in the full log).
 */
export function logTailWindow(tail: { offset: number; data: Buffer }, maxChars: number): TailWindow {
  let text = stripAnsi(tail.data.toString("utf8"));
  // tqdm-style bars rewrite one line with \r: keep what the line finally said.
  text = text
    .split("\n")
    .map((line) => {
      const cr = line.replace(/\r+$/, "").lastIndexOf("\r");
      return cr === -1 ? line.replace(/\r+$/, "") : line.slice(cr + 1);
    })
    .join("\n");
  let omittedBytes = tail.offset;
  if (text.length > maxChars) {
    let cut = text.length - maxChars;
    // Start at the next line when one begins near the cut, but never skip the last line.
    const nl = text[cut - 1] === "\n" ? cut - 1 : text.indexOf("\n", cut);
    if (nl !== -1 && nl < text.length - 1 && nl - cut < 2000) cut = nl + 1;
    omittedBytes += Buffer.byteLength(text.slice(0, cut));
    text = text.slice(cut);
  } else if (tail.offset > 0) {
    // The tail starts mid-log: drop the partial first line.
    const nl = text.indexOf("\n");
    if (nl !== -1 && nl < text.length - 1) {
      omittedBytes += Buffer.byteLength(text.slice(0, nl + 1));
      text = text.slice(nl + 1);
    }
  }
  return { text: text.replace(/\n$/, ""), omittedBytes };
}
