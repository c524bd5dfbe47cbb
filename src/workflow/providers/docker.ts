import type { ProviderSchema } from "../fields/field-context.js";
import { commandsField, envField, imageField, portsField, workingDirField } from "../fields/shared-fields.js";

/** `docker`: runs `commands` (or the image's own command) in `image` (executable; needs a Docker engine). */
export const dockerProvider: ProviderSchema = {
  id: "docker",
  fields: {
    image: imageField,
    commands: commandsField,
    ports: portsField,
    environment: envField,
    env: envField,
    working_dir: workingDirField,
  },
  required: [{ canonical: "image", key: "image", example: "image: ubuntu" }],
};
