import { isMap, isScalar } from "yaml";
import { didYouMean, listInline } from "./did-you-mean.js";
import type { FileReporter } from "./file-reporter.js";
import type { ProviderSchema } from "./fields/field-context.js";
import { BUILTIN_PROVIDERS, RENAMED_PROVIDERS } from "./provider-registry.js";
import { describeNode, scalarSource } from "./yaml-file.js";
import type { Entry, YamlFile } from "./yaml-file.js";

/** What `provider:` names. Errors are reported; where the intent is clear the guess is returned so the other fields still get checked. */
export type ResolvedProvider =
  | { kind: "builtin"; id: string; schema: ProviderSchema }
  | { kind: "custom"; id: string }
  | { kind: "repo"; id: string; repo: string }
  | { kind: "unknown" };

const VERSION_IN_PROVIDER = /^([A-Za-z][A-Za-z0-9_-]*?)\s*(?:==|=|:|\s)\s*v?(\d+(?:\.\d+)*)$/;

/** Resolves `provider: NAME[@BRANCH]` or `provider: {repo, name}` against built-ins and `.dstack/providers.yaml`. */
export function resolveProvider(entry: Entry, yaml: YamlFile, custom: ReadonlySet<string>): ResolvedProvider {
  const report = yaml.report;
  const value = entry.value;
  if (isMap(value)) return resolveRepoProvider(entry, yaml);
  if (!isScalar(value) || value.value === null) {
    report.error(value ?? entry.keyNode, "invalid-provider", `\`provider\` must name a provider, e.g. \`provider: bash\`; got ${describeNode(value)}; ${knownList(custom)}`);
    return { kind: "unknown" };
  }
  const raw = scalarSource(value).trim();
  // The common case, a built-in provider's own name, needs none of the checks for slips below.
  if (BUILTIN_PROVIDERS.has(raw) && RENAMED_PROVIDERS[raw] === undefined) return builtin(raw);
  const versioned = VERSION_IN_PROVIDER.exec(raw);
  if (versioned && BUILTIN_PROVIDERS.has(versioned[1] as string)) {
    const id = versioned[1] as string;
    report.error(value, "invalid-provider", `\`provider: ${raw}\` is not a provider; write \`provider: ${id}\` and \`version: ${versioned[2] as string}\``);
    return builtin(id);
  }
  if (/\s/.test(raw)) {
    // Keep `${{ name }}` whole: it is one argument.
    const [first = "", ...rest] = raw.match(/\$\{\{[^}]*\}\}|\S+/g) ?? [];
    const args = rest.map((a) => JSON.stringify(a)).join(", ");
    report.error(value, "invalid-provider", `\`provider: ${raw}\` is not a provider: a provider is one word. Write \`provider: ${first}\` and pass the rest as arguments: \`args: [${args}]\``);
    return BUILTIN_PROVIDERS.has(first) ? builtin(first) : { kind: "unknown" };
  }
  const at = raw.indexOf("@");
  const written = at > 0 ? raw.slice(0, at) : raw;
  const name = RENAMED_PROVIDERS[written] ?? written;
  if (at > 0 || name !== written) {
    const branch = at > 0 ? `the branch in \`provider: ${raw}\` is ignored (dstack-app runs its own providers)` : "";
    const renamed = name !== written ? `provider \`${written}\` is now called \`${name}\`` : "";
    report.warning(value, at > 0 ? "provider-branch" : "renamed-provider", `${[branch, renamed].filter(Boolean).join(" and ")}; write \`provider: ${name}\``);
  }
  if (BUILTIN_PROVIDERS.has(name)) return builtin(name);
  if (custom.has(name)) return { kind: "custom", id: name };
  const hint = didYouMean(name, [...BUILTIN_PROVIDERS.keys(), ...custom]);
  report.error(value, "unknown-provider", `unknown provider \`${name}\`${hint}${hint ? " " : "; "}${knownList(custom)}`);
  return { kind: "unknown" };
}

function builtin(id: string): ResolvedProvider {
  return { kind: "builtin", id, schema: BUILTIN_PROVIDERS.get(id) as ProviderSchema };
}

function knownList(custom: ReadonlySet<string>): string {
  const own = custom.size > 0 ? `, and from \`.dstack/providers.yaml\`: ${listInline([...custom])}` : "";
  return `known providers: ${listInline([...BUILTIN_PROVIDERS.keys()])}${own}`;
}

/** `provider: {repo: https://github.com/owner/repo, name: NAME}` (May 2022): a provider from another repository. */
function resolveRepoProvider(entry: Entry, yaml: YamlFile): ResolvedProvider {
  const report: FileReporter = yaml.report;
  let repo: string | undefined;
  let name: string | undefined;
  if (!isMap(entry.value)) return { kind: "unknown" };
  for (const field of yaml.entries(entry.value)) {
    const text = isScalar(field.value) && field.value.value !== null ? scalarSource(field.value).trim() : undefined;
    if (field.key === "repo" || field.key === "name") {
      if (text === undefined || text === "") {
        report.error(field.value ?? field.keyNode, "invalid-provider", `\`provider.${field.key}\` must be a single value; got ${describeNode(field.value)}`);
      } else if (field.key === "repo") repo = text;
      else name = text;
    } else {
      report.error(field.keyNode, "unknown-field", `unknown field \`${field.key}\` of \`provider\`${didYouMean(field.key, ["repo", "name"]) || "; it takes `repo` and `name`"}`);
    }
  }
  if (repo === undefined || name === undefined) {
    if (repo === undefined && name === undefined) report.error(entry.keyNode, "invalid-provider", "`provider` as a mapping needs `repo` and `name`, e.g. `provider: {repo: https://github.com/owner/repo, name: my-provider}`");
    else report.error(entry.keyNode, "invalid-provider", `\`provider\` as a mapping needs both \`repo\` and \`name\`; \`${repo === undefined ? "repo" : "name"}\` is missing`);
    return { kind: "unknown" };
  }
  const short = /(?:^|github\.com[/:])([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(repo)?.[1] ?? repo;
  return { kind: "repo", id: `${short}/${name}`, repo };
}
