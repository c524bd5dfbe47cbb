/**
 * Log text to HTML: every character is escaped first, then SGR codes (`ESC[...m`) become spans with
 * fixed class names; no text from the log ever reaches a tag or an attribute. Other escape
 * sequences (cursor moves, OSC titles) are dropped. The state carries across chunks.
 */
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// CSI sequences (ESC [ params final), OSC (ESC ] ... BEL or ESC \), and lone two-byte escapes.
// eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters
const SEQUENCE = /\u001b\[([0-9;?]*)([@-~])|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

// eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters
const SGR = /\u001b\[[0-9;]*m/g;

/**
 * A carriage return inside a line (`\r` progress bars: tqdm, pip, curl) rewrites the line, as a
 * terminal shows it: only the text after the last one stays, with the colour codes before it (they
 * still set the colour). A `\r` ending the line (`\r\n`, or the chunk's end) is no rewrite.
 */
function collapseLine(line) {
  const end = line.endsWith("\r") ? line.length - 1 : line.length;
  const cr = end === 0 ? -1 : line.lastIndexOf("\r", end - 1);
  if (cr === -1) return line;
  return (line.slice(0, cr).match(SGR) ?? []).join("") + line.slice(cr + 1);
}


export class AnsiRenderer {
  constructor() {
    this.fg = undefined;
    this.bg = undefined;
    this.bold = false;
    this.dim = false;
    this.italic = false;
    this.underline = false;
    this.carry = "";
    /** The last chunk ended inside a line: a `\r` early in this one rewrites text already shown. */
    this.midLine = false;
  }

  /**
   * The chunk with its `\r` rewrites applied (`collapseLine`). Text of an earlier chunk is already
   * on the page, so a rewrite of it starts a new line instead, as the log did before.
   */
  collapse(text) {
    const midLine = this.midLine;
    if (text !== "") this.midLine = !text.endsWith("\n");
    if (!text.includes("\r")) return text;
    return text
      .split("\n")
      .map((line, i) => {
        const kept = collapseLine(line);
        return i === 0 && midLine && kept !== line ? `\n${kept}` : kept;
      })
      .join("\n");
  }

  classes() {
    const c = [];
    if (this.fg !== undefined) c.push(`fg-${this.fg}`);
    if (this.bg !== undefined) c.push(`bg-${this.bg}`);
    if (this.bold) c.push("b");
    if (this.dim) c.push("dim");
    if (this.italic) c.push("i");
    if (this.underline) c.push("u");
    return c.join(" ");
  }

  apply(params) {
    const codes = params === "" ? [0] : params.split(";").map((p) => Number(p) || 0);
    for (let i = 0; i < codes.length; i++) {
      const n = codes[i];
      if (n === 0) Object.assign(this, { fg: undefined, bg: undefined, bold: false, dim: false, italic: false, underline: false });
      else if (n === 1) this.bold = true;
      else if (n === 2) this.dim = true;
      else if (n === 3) this.italic = true;
      else if (n === 4) this.underline = true;
      else if (n === 22) this.bold = this.dim = false;
      else if (n === 23) this.italic = false;
      else if (n === 24) this.underline = false;
      else if (n >= 30 && n <= 37) this.fg = n - 30;
      else if (n >= 90 && n <= 97) this.fg = n - 90 + 8;
      else if (n === 39) this.fg = undefined;
      else if (n >= 40 && n <= 47) this.bg = n - 40;
      else if (n >= 100 && n <= 107) this.bg = n - 100 + 8;
      else if (n === 49) this.bg = undefined;
      else if ((n === 38 || n === 48) && codes[i + 1] === 5) {
        // 256 colours: the 16 basic ones map to our palette, the rest are left plain.
        const idx = codes[i + 2];
        if (idx !== undefined && idx < 16) this[n === 38 ? "fg" : "bg"] = idx;
        i += 2;
      } else if ((n === 38 || n === 48) && codes[i + 1] === 2) i += 4;
    }
  }

  /** HTML for the next chunk of log text. A sequence cut at the chunk's end waits for the next. */
  render(chunk) {
    let text = this.carry + chunk;
    this.carry = "";
    const cut = text.lastIndexOf("\u001b");
    // eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters
    if (cut !== -1 && cut > text.length - 32 && !/^\u001b(\[[0-9;?]*[@-~]|\][^\u0007\u001b]*(\u0007|\u001b\\)|[@-Z\\-_])/.test(text.slice(cut))) {
      this.carry = text.slice(cut);
      text = text.slice(0, cut);
    }
    text = this.collapse(text);
    let html = "";
    let last = 0;
    const open = () => {
      const c = this.classes();
      return c === "" ? "" : `<span class="${c}">`;
    };
    let span = open();
    html += span;
    SEQUENCE.lastIndex = 0;
    for (let m = SEQUENCE.exec(text); m !== null; m = SEQUENCE.exec(text)) {
      html += escapeHtml(text.slice(last, m.index));
      last = m.index + m[0].length;
      if (m[2] === "m") {
        if (span !== "") html += "</span>";
        this.apply(m[1]);
        span = open();
        html += span;
      }
    }
    // eslint-disable-next-line no-control-regex -- ANSI escape sequences are control characters
    html += escapeHtml(text.slice(last).replace(/\u001b/g, ""));
    if (span !== "") html += "</span>";
    return html;
  }
}
