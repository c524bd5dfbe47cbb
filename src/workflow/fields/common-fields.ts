import type { FieldSpec } from "./field-context.js";
import { readArtifacts } from "./read-artifacts.js";
import { readCheckpoints } from "./read-checkpoints.js";
import { readDependencies } from "./read-dependencies.js";
import { readResources } from "./read-resources.js";
import { readTriggers } from "./read-triggers.js";
import { readText } from "./value-readers.js";

/** Fields every workflow takes, whatever its provider (`name` and `provider` are read first, apart). */

const helpField: FieldSpec = {
  canonical: "help",
  read(entry, ctx, w) {
    const help = readText(entry, ctx, 'help: "Trains the model"');
    if (help !== undefined) w.help = help.trim();
  },
};

const dependsOnField: FieldSpec = {
  canonical: "depends-on",
  read(entry, ctx) {
    // Only the located list: `readWorkflow` sets `dependsOn` from it once, after every field is read.
    ctx.dependencies.push(...readDependencies(entry, ctx));
  },
};

export const COMMON_FIELDS: Readonly<Record<string, FieldSpec>> = {
  help: helpField,
  "depends-on": dependsOnField,
  // `deps` is the Aug-Dec 2022 name; DESIGN.md §2 keeps `depends-on`, both load without a warning.
  deps: dependsOnField,
  artifacts: {
    canonical: "artifacts",
    read(entry, ctx, w) {
      w.artifacts = readArtifacts(entry, ctx);
    },
  },
  checkpoints: {
    canonical: "checkpoints",
    read(entry, ctx, w) {
      const checkpoints = readCheckpoints(entry, ctx);
      if (checkpoints.length > 0) w.checkpoints = checkpoints;
    },
  },
  resources: {
    canonical: "resources",
    read(entry, ctx, w) {
      readResources(entry, ctx, w.resources);
    },
  },
  on: {
    canonical: "on",
    read(entry, ctx, w) {
      w.on = readTriggers(entry, ctx);
    },
  },
};
