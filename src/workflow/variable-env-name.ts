/** A variable's environment name: upper case, anything but letters, digits and `_` as `_` (`batch-size` -> `BATCH_SIZE`). */
export function variableEnvName(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_").toUpperCase();
}
