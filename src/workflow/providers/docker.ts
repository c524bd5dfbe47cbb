import type { ProviderSchema } from "../fields/field-context.js";
import { commandsField, envField, imageField, portsField, setupField, workingDirField } from "../fields/shared-fields.js";

/**
 * `docker`: runs `commands` (or the image's own command) in `image` (executable; needs a Docker engine).
 * `before_run` (2022: `providers/docker/README.md`, `docs/reference/providers/docker.md`) runs first.
 */
export const dockerProvider: ProviderSchema = {
  id: "docker",
  fields: {
    image: imageField,
    commands: commandsField,
    setup: setupField,
    before_run: setupField,
    ports: portsField,
    environment: envField,
    env: envField,
    working_dir: workingDirField,
  },
  required: [{ canonical: "image", key: "image", example: "image: ubuntu" }],
};
