import type { DependencyRef, TagDependency } from "./types.js";

const WORD = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses one dependency as written in `depends-on`/`deps` or `--dep`:
 * `name` (run it first), `name:tag` / `name:latest` (reuse a tagged run), `:tag` (reuse the run
 * tagged so, whatever its workflow), each optionally prefixed with `owner/repo/` (another repository).
 * A workflow of another repository cannot run in this group, so `owner/repo/name` means its latest
 * successful run: `{kind: "tag", tag: "latest", workflow, repo}`.
 */
export function parseDependencyRef(text: string): DependencyRef | { error: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { error: "a dependency is empty; write a workflow name, `name:tag` or `:tag`" };
  const { repo, rest, error } = splitRepo(trimmed);
  if (error !== undefined) return { error };
  const colon = rest.indexOf(":");
  const name = colon < 0 ? rest : rest.slice(0, colon);
  const tag = colon < 0 ? undefined : rest.slice(colon + 1);
  if (name !== "" && !WORD.test(name)) {
    return { error: `\`${trimmed}\` is not a dependency: \`${name}\` is not a workflow name (ASCII letters, digits, \`-\`, \`_\`, \`.\`)` };
  }
  if (tag !== undefined && !WORD.test(tag)) {
    return { error: `\`${trimmed}\` is not a dependency: write \`name:tag\` or \`:tag\` with a tag made of ASCII letters, digits, \`-\`, \`_\`, \`.\`` };
  }
  if (name === "" && tag === undefined) return { error: `\`${trimmed}\` is not a dependency; write a workflow name, \`name:tag\` or \`:tag\`` };
  const withRepo = repo === undefined ? {} : { repo };
  if (tag !== undefined) return { kind: "tag", tag, ...(name === "" ? {} : { workflow: name }), ...withRepo };
  if (repo !== undefined) return { kind: "tag", tag: "latest", workflow: name, repo };
  return { kind: "workflow", workflow: name };
}

/** Parses `{tag: [owner/repo/]tag}`: a tag alone, never a workflow. */
export function parseTagRef(text: string): TagDependency | { error: string } {
  const trimmed = text.trim();
  const { repo, rest, error } = splitRepo(trimmed);
  if (error !== undefined) return { error };
  if (!WORD.test(rest)) return { error: `\`${trimmed}\` is not a tag; a tag is made of ASCII letters, digits, \`-\`, \`_\`, \`.\` (optionally \`owner/repo/tag\`)` };
  return { kind: "tag", tag: rest, ...(repo === undefined ? {} : { repo }) };
}

function splitRepo(text: string): { repo?: string; rest: string; error?: string } {
  if (!text.includes("/")) return { rest: text };
  const parts = text.split("/");
  if (parts.length === 1) return { rest: text };
  if (parts.length === 3 && parts.every((p, i) => (i < 2 ? WORD.test(p) : p !== ""))) {
    return { repo: `${parts[0] as string}/${parts[1] as string}`, rest: parts[2] as string };
  }
  return { rest: text, error: `\`${text}\` is not a dependency; another repository's workflow is written \`owner/repo/name\` (or \`owner/repo/name:tag\`)` };
}

/** The dependency as a user writes it, for messages: `download`, `download:v1`, `:tag`, `owner/repo/name:latest`. */
export function formatDependencyRef(ref: DependencyRef): string {
  const prefix = ref.repo === undefined ? "" : `${ref.repo}/`;
  if (ref.kind === "workflow") return `${prefix}${ref.workflow}`;
  return `${prefix}${ref.workflow ?? ""}:${ref.tag}`;
}
