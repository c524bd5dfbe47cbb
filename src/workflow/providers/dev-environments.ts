import type { ProviderSchema } from "../fields/field-context.js";
import { appEnvironmentFields, commandsAsSetup, portsField } from "../fields/shared-fields.js";

/** Dev environments: VS Code (`code`), JupyterLab (`lab`), Jupyter (`notebook`); parsed, not executable yet. */
function devEnvironment(id: string): ProviderSchema {
  return {
    id,
    fields: { ...appEnvironmentFields, commands: commandsAsSetup, ports: portsField },
    required: [],
  };
}

export const codeProvider = devEnvironment("code");
export const labProvider = devEnvironment("lab");
export const notebookProvider = devEnvironment("notebook");
