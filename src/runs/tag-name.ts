/**
 * A run tag (`v1`, `best-model`): what the API, the CLI and `/dstack tag` accept, one rule for all.
 * ASCII only: a tag is written in `depends-on: [train:v1]` and in shell commands.
 */
export const TAG_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The rule in words, for refusals. */
export const TAG_NAME_RULE = 'ASCII letters, digits, ".", "_" and "-", at most 100';
