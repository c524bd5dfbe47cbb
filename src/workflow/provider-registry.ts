import type { ProviderSchema } from "./fields/field-context.js";
import { fastapiProvider, gradioProvider, streamlitProvider } from "./providers/apps.js";
import { bashProvider } from "./providers/bash.js";
import { curlProvider } from "./providers/curl.js";
import { codeProvider, labProvider, notebookProvider } from "./providers/dev-environments.js";
import { dockerProvider } from "./providers/docker.js";
import { pythonProvider } from "./providers/python.js";
import { tensorboardProvider } from "./providers/tensorboard.js";
import { torchrunProvider } from "./providers/torchrun.js";

/** Built-in providers by id, in the order help texts list them. */
export const BUILTIN_PROVIDERS: ReadonlyMap<string, ProviderSchema> = new Map(
  [
    pythonProvider,
    bashProvider,
    dockerProvider,
    curlProvider,
    torchrunProvider,
    codeProvider,
    labProvider,
    notebookProvider,
    streamlitProvider,
    gradioProvider,
    fastapiProvider,
    tensorboardProvider,
  ].map((p) => [p.id, p]),
);

/**
 * Older provider names that still load, with a warning naming the current one: dstack's provider
 * READMEs of May-June 2022 called them `jupyter`, `jupyterlab` and `vscode` (`providers/<name>/README.md`).
 */
export const RENAMED_PROVIDERS: Readonly<Record<string, string>> = { jupyter: "notebook", jupyterlab: "lab", vscode: "code" };

/** Providers dstack-app runs. The others load and validate, and are refused at submit. */
export const EXECUTABLE_PROVIDERS: ReadonlySet<string> = new Set(["python", "bash", "docker", "curl"]);

/**
 * Why a workflow with this provider cannot run, for the submit step's refusal:
 * built-in providers not executed yet, providers of `.dstack/providers.yaml`, and providers from
 * another repository (`owner/repo/name`). Call it only when `EXECUTABLE_PROVIDERS` lacks the provider.
 */
export function unsupportedProviderMessage(provider: string): string {
  const runs = "dstack-app runs `python`, `bash`, `docker` and `curl` workflows";
  if (BUILTIN_PROVIDERS.has(provider)) {
    return `provider \`${provider}\` is not supported yet: ${runs}; \`${provider}\` workflows are only validated`;
  }
  if (provider.includes("/")) {
    return `provider \`${provider}\` comes from another repository, which is not supported yet: ${runs}`;
  }
  return `provider \`${provider}\` is a custom provider (\`.dstack/providers.yaml\`), which is not supported yet: ${runs}`;
}
