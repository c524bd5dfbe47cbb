import { isMap, isSeq } from "yaml";
import type { Node } from "yaml";
import { didYouMean } from "./did-you-mean.js";
import { plainContext } from "./fields/plain-context.js";
import { readCommands } from "./fields/read-commands.js";
import { readText } from "./fields/value-readers.js";
import { describeNode } from "./yaml-file.js";
import type { YamlFile } from "./yaml-file.js";

/** A provider defined in `.dstack/providers.yaml` (validated; not executable yet). */
export interface CustomProvider {
  name: string;
  where: Node;
  yaml: YamlFile;
}

const KEYS = ["name", "image", "commands", "help"] as const;

/** Reads `providers: [{name, image, commands}]`. */
export function readProvidersFile(yaml: YamlFile): CustomProvider[] {
  const root = yaml.root;
  if (root === null) return [];
  if (!isMap(root)) {
    yaml.report.error(root, "invalid-type", `\`${yaml.report.path}\` must be a mapping with \`providers:\`; got ${describeNode(root)}`);
    return [];
  }
  const ctx = plainContext(yaml);
  const providers: CustomProvider[] = [];
  for (const top of yaml.entries(root)) {
    if (top.key !== "providers") {
      yaml.report.error(top.keyNode, "unknown-field", `unknown key \`${top.key}\`${didYouMean(top.key, ["providers"]) || "; this file holds `providers:` only"}`);
      continue;
    }
    if (top.value === null) continue;
    if (!isSeq(top.value)) {
      yaml.report.error(top.keyNode, "invalid-type", `\`providers\` must be a list, e.g. \`providers: [{name: hello, image: python:3.9, commands: [...]}]\`; got ${describeNode(top.value)}`);
      continue;
    }
    for (const item of yaml.items(top.value)) {
      if (!isMap(item)) {
        yaml.report.error(item ?? top.keyNode, "invalid-type", `a provider must be a mapping with \`name\`, \`image\` and \`commands\`; got ${describeNode(item)}`);
        continue;
      }
      let name: string | undefined;
      let where: Node = item;
      for (const field of yaml.entries(item)) {
        if (field.key === "name") {
          name = readText(field, ctx, "name: hello")?.trim();
          where = field.value ?? field.keyNode;
        } else if (field.key === "image") readText(field, ctx, "image: python:3.9");
        else if (field.key === "commands") readCommands(field, ctx);
        else if (field.key !== "help") {
          yaml.report.warning(field.keyNode, "unknown-field", `unknown provider field \`${field.key}\`${didYouMean(field.key, KEYS) || "; a provider has `name`, `image` and `commands`"}`);
        }
      }
      if (name === undefined || name === "") {
        yaml.report.error(item, "missing-field", "a provider needs a `name`, e.g. `- name: hello`");
        continue;
      }
      providers.push({ name, where, yaml });
    }
  }
  return providers;
}
