import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import type { CliTokenRequest } from "./cli-tokens.js";

/** How long a new CLI token lasts unless asked otherwise: a lost laptop's token dies by itself. */
export const DEFAULT_CLI_TOKEN_EXPIRY = "90d";
/** A token's label when none is given. */
export const DEFAULT_CLI_TOKEN_LABEL = "cli";
/** The longest expiry short of `never` (10 years): anything longer is a typo. */
const MAX_EXPIRY_DAYS = 3650;

const HOUR_MS = 3600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * A label shows in `dstack tokens list`'s table and on the settings page: no control characters, nor
 * invisible formatting ones (zero-width, bidirectional overrides), which hide or reorder what is shown.
 */
const LABEL_CHARACTERS = /^[^\p{Cc}\p{Cf}]*$/u;

/** `POST /api/v1/user/tokens`' body: every field optional (an empty body asks for the defaults). */
export const CreateCliTokenBody = z.strictObject({
  label: z
    .string()
    .trim()
    .max(64, "at most 64 characters")
    .regex(LABEL_CHARACTERS, "no control or invisible characters (zero-width, bidirectional)")
    .optional(),
  expiresIn: z.string().optional(),
});

/**
 * `expiresIn` as milliseconds from now: `30d` (days), `12h` (hours), or `never` (null). The words a
 * user types in the CLI, the settings page and the API alike.
 * @param name what the caller calls the value in its message (`--expires-in` in the CLI).
 * @throws InvalidInputError naming the accepted forms.
 */
export function parseExpiresIn(text: string, name = "expiresIn"): number | null {
  const value = text.trim().toLowerCase();
  if (value === "never") return null;
  const match = /^(\d{1,6})\s*([dh])$/.exec(value);
  const ms = match === null ? 0 : Number(match[1]) * (match[2] === "d" ? DAY_MS : HOUR_MS);
  if (ms <= 0 || ms > MAX_EXPIRY_DAYS * DAY_MS) {
    throw new InvalidInputError(`bad ${name} ${JSON.stringify(text)}: write a number of days or hours (\`30d\`, \`12h\`, at most ${MAX_EXPIRY_DAYS}d) or \`never\``);
  }
  return ms;
}

/** The label and expiry a creation request asks for, with the defaults filled in. */
export function cliTokenRequest(body: z.infer<typeof CreateCliTokenBody>, now: number): CliTokenRequest {
  const label = body.label === undefined || body.label === "" ? DEFAULT_CLI_TOKEN_LABEL : body.label;
  const lifetime = parseExpiresIn(body.expiresIn ?? DEFAULT_CLI_TOKEN_EXPIRY);
  return { label, expiresAt: lifetime === null ? null : now + lifetime };
}
