import type { ProviderSchema } from "../fields/field-context.js";
import { commandsField, portsField, pythonEnvironmentFields } from "../fields/shared-fields.js";

/** `bash`: runs `commands` in a shell, in an image with Python (`version`) (executable). */
export const bashProvider: ProviderSchema = {
  id: "bash",
  fields: {
    commands: commandsField,
    ports: portsField,
    ...pythonEnvironmentFields,
  },
  required: [{ canonical: "commands", key: "commands", example: "commands: [\"python train.py\"]" }],
};
