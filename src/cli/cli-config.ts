import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.js";

/** The server the CLI talks to when nothing says otherwise: `npm start`'s default. */
export const DEFAULT_SERVER_URL = "http://localhost:3000";

const StoredConfig = z.object({ url: z.string().optional(), token: z.string().optional() });
export type StoredConfig = z.infer<typeof StoredConfig>;

export type ConfigSource = "env" | "file" | "default";

/** Where the CLI finds its server and token, and where each came from. */
export interface CliConfig {
  url: string;
  urlSource: ConfigSource;
  token?: string;
  tokenSource?: Exclude<ConfigSource, "default">;
  file: string;
}

/** `$XDG_CONFIG_HOME/dstack/config.json`, else `~/.config/dstack/config.json`. */
export function configFilePath(env: Readonly<Record<string, string | undefined>>): string {
  const base = nonEmpty(env.XDG_CONFIG_HOME) ?? path.join(nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? ".", ".config");
  return path.join(base, "dstack", "config.json");
}

/**
 * The CLI's configuration (STYLE §9: the only reader of the environment): `DSTACK_URL` and
 * `DSTACK_TOKEN` override the config file that `dstack config` writes.
 */
export async function loadCliConfig(env: Readonly<Record<string, string | undefined>>): Promise<CliConfig> {
  const file = configFilePath(env);
  const stored = await readStored(file);
  const envUrl = nonEmpty(env.DSTACK_URL);
  const envToken = nonEmpty(env.DSTACK_TOKEN);
  const url = envUrl ?? stored.url;
  const token = envToken ?? stored.token;
  const config: CliConfig = {
    url: normaliseUrl(url ?? DEFAULT_SERVER_URL, envUrl !== undefined ? "DSTACK_URL" : file),
    urlSource: envUrl !== undefined ? "env" : stored.url !== undefined ? "file" : "default",
    file,
  };
  if (token !== undefined) {
    config.token = token;
    config.tokenSource = envToken !== undefined ? "env" : "file";
  }
  return config;
}

export async function readStored(file: string): Promise<StoredConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (err instanceof Error && "code" in err && err.code === "ENOENT") return {};
    throw new ConfigError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${file} is not valid JSON; fix it or delete it and run \`dstack config\` again`);
  }
  const parsed = StoredConfig.safeParse(json);
  if (!parsed.success) throw new ConfigError(`${file} should hold {"url": "...", "token": "..."}; fix it or run \`dstack config\` again`);
  return parsed.data;
}

/** Writes the config file readable by its owner only (0600; its folder 0700): it holds the token. */
export async function writeStored(file: string, config: StoredConfig): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // `mode` applies only when the file is created: tighten an older one too.
  await chmod(file, 0o600);
}

export function normaliseUrl(url: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${where}: ${JSON.stringify(url)} is not a URL; use e.g. http://localhost:3000`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new ConfigError(`${where}: the server URL must be http:// or https://, got ${JSON.stringify(url)}`);
  // The service's address, not its API's: `http://host:3000/api/v1` (copied from an API call) means `http://host:3000`.
  return parsed.href.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}
