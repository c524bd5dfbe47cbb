import type { Workflow } from "./types.js";

/** A workflow with every field at its default; readers fill in what the file or command line says. */
export function blankWorkflow(name: string, provider: string, source: Workflow["source"]): Workflow {
  return {
    name,
    provider,
    args: [],
    commands: [],
    setup: [],
    env: {},
    artifacts: [],
    resources: { interruptible: false },
    dependsOn: [],
    on: {},
    source,
  };
}
