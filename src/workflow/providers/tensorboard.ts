import type { ProviderSchema } from "../fields/field-context.js";
import { logdirField, runsField } from "../fields/shared-fields.js";

/** `tensorboard`: shows the logs of earlier `runs` (parsed and validated; not executable yet). */
export const tensorboardProvider: ProviderSchema = {
  id: "tensorboard",
  fields: { runs: runsField, logdir: logdirField },
  required: [{ canonical: "runs", key: "runs", example: "runs: [angry-fox-1]" }],
};
