import type { ProviderSchema } from "../fields/field-context.js";
import { argsField, fileField, nodesField, pythonEnvironmentFields, renamedToFile } from "../fields/shared-fields.js";

/** `torchrun`: distributed PyTorch over `nodes` machines (parsed and validated; not executable yet). */
export const torchrunProvider: ProviderSchema = {
  id: "torchrun",
  fields: {
    file: fileField,
    script: renamedToFile,
    args: argsField,
    nodes: nodesField,
    ...pythonEnvironmentFields,
  },
  required: [{ canonical: "file", key: "file", example: "file: train.py" }],
};
