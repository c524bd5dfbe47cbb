import type { ProviderSchema } from "../fields/field-context.js";
import { argsField, fileField, portsField, pythonEnvironmentFields, renamedToFile } from "../fields/shared-fields.js";

/** `python`: runs `python FILE ARGS...` after installing `requirements` (executable). */
export const pythonProvider: ProviderSchema = {
  id: "python",
  fields: {
    file: fileField,
    script: renamedToFile,
    python_script: renamedToFile,
    args: argsField,
    ports: portsField,
    ...pythonEnvironmentFields,
  },
  required: [{ canonical: "file", key: "file", example: "file: train.py" }],
};
