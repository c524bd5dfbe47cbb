import { existsSync } from "node:fs";
import path from "node:path";

/**
 * Whether the AWS SDK would find credentials without asking the network: the standard variables, a
 * profile, web identity, the container endpoint, or a shared credentials/config file. The instance
 * metadata service is not probed (off EC2 that costs seconds of timeouts in a CLI).
 */
export function hasAwsCredentials(env: Readonly<Record<string, string | undefined>>, homeDir: string | undefined): boolean {
  const set = (name: string) => (env[name] ?? "") !== "";
  if (set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")) return true;
  if (set("AWS_PROFILE") || set("AWS_WEB_IDENTITY_TOKEN_FILE") || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
    return true;
  }
  const files = [env.AWS_SHARED_CREDENTIALS_FILE, env.AWS_CONFIG_FILE];
  if (homeDir !== undefined && homeDir !== "") files.push(path.join(homeDir, ".aws", "credentials"), path.join(homeDir, ".aws", "config"));
  return files.some((f) => f !== undefined && f !== "" && existsSync(f));
}
