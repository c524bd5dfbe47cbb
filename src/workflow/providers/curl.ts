import type { ProviderSchema } from "../fields/field-context.js";
import { outputField, urlField } from "../fields/shared-fields.js";

/** `curl`: downloads `url` to `output` (executable). */
export const curlProvider: ProviderSchema = {
  id: "curl",
  fields: {
    url: urlField,
    output: outputField,
  },
  required: [
    { canonical: "url", key: "url", example: "url: https://example.com/data.csv" },
    { canonical: "output", key: "output", example: "output: data/data.csv" },
  ],
};
