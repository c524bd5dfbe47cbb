/**
 * Values shorter than this (in characters) are not masked. Replacing every `1`, `on` or `the` in
 * a log would destroy it, and would also give the value away: the `***` would sit exactly where
 * the short value appears in ordinary text. A secret that short is not a credential worth the name
 * (GitHub Actions and Renovate skip very short values for the same reason).
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * The forms a secret takes in program output, each of which is masked (actions/toolkit and
 * Renovate mask the value and its base64; programs also print URL-encoded and JSON-escaped text):
 * - the value itself (without leading and trailing line breaks, so a value stored with a final
 *   newline still matches `echo $TOKEN`), and each line of a multi-line value (a PEM key printed
 *   line by line, or with other indentation), trimmed, when at least MIN_SECRET_LENGTH long;
 * - its base64 as it appears inside a longer base64 text (`base64("user:" + token)` in a basic-auth
 *   header): the value can start at byte offset 0, 1 or 2 of a 3-byte group, so for each offset the
 *   characters that depend on the value's bytes alone, plus the value's own end with and without
 *   `=` padding (when the value ends the encoded text); in the standard and the URL-safe alphabet;
 * - percent-encoding as programs write it, with upper- and lower-case hex: JavaScript's
 *   `encodeURIComponent` (leaves `!'()*`), form encoding (`+` for space, `~` encoded), and strict
 *   RFC 3986 (Python's `quote(safe="")` and `quote_plus`, curl's `--data-urlencode`, Go's
 *   `QueryEscape`: only `A-Za-z0-9-._~` left as they are), with `%20` and with `+`;
 * - JSON string escaping, as JavaScript writes it and with non-ASCII as `\uXXXX` (Python's default);
 * - Python's `repr` (`print(os.environ)`, a dict or a list holding the value: `\'`, `\\`, `\n`).
 * Forms shorter than MIN_SECRET_LENGTH are dropped. Not covered (documented limits, as in GitHub
 * Actions): other transformations (hex, gzip, reversed, split with separators, base64 wrapped
 * into lines, shell quoting such as `printf %q`), and a value shorter than MIN_SECRET_LENGTH.
 */
export function secretForms(value: string): string[] {
  if (value.length < MIN_SECRET_LENGTH) return [];
  const forms = new Set<string>();
  const raw = value.replace(/^[\r\n]+|[\r\n]+$/g, "");
  forms.add(raw);
  for (const line of value.split(/\r?\n/)) forms.add(line.trim());
  for (const v of new Set([value, raw])) for (const b of base64Forms(Buffer.from(v, "utf8"))) forms.add(b);
  const uri = encodeURIComponent(raw);
  const form = new URLSearchParams([["", raw]]).toString().slice(1);
  const strict = uri.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  for (const u of [uri, form, strict, strict.replace(/%20/g, "+")]) {
    forms.add(u);
    forms.add(u.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  }
  const json = JSON.stringify(raw).slice(1, -1);
  forms.add(json);
  forms.add(json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  forms.add(pythonRepr(raw));
  return [...forms].filter((f) => Buffer.byteLength(f, "utf8") >= MIN_SECRET_LENGTH && f.trim().length >= MIN_SECRET_LENGTH);
}

/**
 * The inside of Python's `repr` of a str: single quotes unless the text has `'` and no `"`; the
 * chosen quote, `\\`, `\n`, `\r`, `\t` escaped, other control characters as `\xNN`; printable
 * non-ASCII characters as they are (Python 3).
 */
function pythonRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const named: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", [quote]: `\\${quote}` };
  let out = "";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += named[c] ?? (code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, "0")}` : c);
  }
  return out;
}

/** Offsets 0, 1, 2: the first base64 character that depends on the value's bits only, per offset. */
const STABLE_START = [0, 2, 3] as const;

function base64Forms(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    const start = STABLE_START[offset] ?? 0;
    // Character i holds bits [6i, 6i + 6); the value holds bits [8 * offset, 8 * (offset + length)).
    const stableEnd = Math.floor((8 * (offset + bytes.length)) / 6);
    const tail = encoded.slice(start);
    for (const b of [encoded.slice(start, stableEnd), tail, tail.replace(/=+$/, "")]) {
      out.push(b, b.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return out;
}
