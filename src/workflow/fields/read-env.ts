import { isMap, isScalar, isSeq } from "yaml";
import { describeNode } from "../yaml-file.js";
import type { Where } from "../file-reporter.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";
import { readTextNode } from "./value-readers.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `environment: {K: V}` (hosted 2022) or `env: [K=V, K]` (Aug 2022 on; `K` alone is an empty value).
 * Values keep their text as written (`true` stays "true"); `$PATH` and the like are left for the shell.
 */
export function readEnv(entry: Entry, ctx: FieldContext): Record<string, string> {
  const env: Record<string, string> = {};
  const value = entry.value;
  if (value === null) return env;
  if (isMap(value)) {
    for (const item of ctx.yaml.entries(value)) {
      if (!checkName(item.key, item.keyNode, ctx)) continue;
      if (item.value === null || (isScalar(item.value) && item.value.value === null)) env[item.key] = "";
      else if (isScalar(item.value)) env[item.key] = ctx.text(item.value);
      else ctx.report.error(item.keyNode, "invalid-type", `environment variable \`${item.key}\` must be a single value; got ${describeNode(item.value)}`);
    }
    return env;
  }
  if (!isSeq(value)) {
    ctx.report.error(value, "invalid-type", `\`${entry.key}\` must be a mapping (\`${entry.key}: {PYTHONPATH: src}\`) or a list (\`${entry.key}: [PYTHONPATH=src]\`); got ${describeNode(value)}`);
    return env;
  }
  for (const item of ctx.yaml.items(value)) {
    if (isMap(item)) {
      // `- KEY: value` in a list is a common slip for `- KEY=value`: take it as meant, and say so.
      for (const pair of ctx.yaml.entries(item)) {
        if (!checkName(pair.key, pair.keyNode, ctx)) continue;
        env[pair.key] = isScalar(pair.value) ? ctx.text(pair.value) : "";
        ctx.report.warning(pair.keyNode, "env-item-mapping", `\`- ${pair.key}: ...\` in the \`${entry.key}\` list is a mapping; write \`- ${pair.key}=...\``);
      }
      continue;
    }
    const text = readTextNode(item, entry.keyNode, `an item of \`${entry.key}\``, ctx, "- PYTHONPATH=src");
    if (text === undefined || item === null) continue;
    const eq = text.indexOf("=");
    const name = eq < 0 ? text.trim() : text.slice(0, eq).trim();
    if (!checkName(name, item, ctx)) continue;
    env[name] = eq < 0 ? "" : text.slice(eq + 1);
  }
  return env;
}

function checkName(name: string, where: Where, ctx: FieldContext): boolean {
  if (name === "__proto__") {
    // Assigning it would replace the object's prototype instead of adding a variable.
    ctx.report.error(where, "invalid-env-name", "`__proto__` cannot be an environment variable name");
    return false;
  }
  if (ENV_NAME.test(name)) return true;
  ctx.report.error(where, "invalid-env-name", `\`${name}\` is not an environment variable name (ASCII letters, digits and \`_\`, not starting with a digit)`);
  return false;
}
