import { render } from "../../src/render.js";

export interface UserDataInput {
  /** The agent's environment: DSTACK_AGENT_URL, DSTACK_AGENT_RUN_ID, DSTACK_AGENT_TOKEN (run-scoped). */
  agentEnv: Record<string, string>;
  /** Node.js version installed when the image has no Node 20+ (default: the service's own). */
  nodeVersion?: string;
  /** The instance shuts itself down after this long, whatever happens. */
  maxLifetimeSeconds: number;
}

/** EC2's limit on user data, before base64. */
export const USER_DATA_MAX_BYTES = 16 * 1024;

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * The instance's bootstrap script (templates/ec2-user-data.sh.hbs): installs Node.js if missing,
 * downloads the agent bundle from the service with the run's token, runs it, and shuts down.
 * Every value is shell-quoted by the template's `sh` helper; names are checked here.
 */
export function renderUserData(input: UserDataInput): string {
  const env = Object.entries(input.agentEnv).map(([name, value]) => {
    if (!ENV_NAME.test(name)) throw new Error(`user data: ${JSON.stringify(name)} is not an environment variable name`);
    if (value.includes("\0")) throw new Error(`user data: the value of ${name} contains a NUL byte`);
    return { name, value };
  });
  for (const required of ["DSTACK_AGENT_URL", "DSTACK_AGENT_RUN_ID", "DSTACK_AGENT_TOKEN"]) {
    if (input.agentEnv[required] === undefined) throw new Error(`user data: ${required} is missing from the agent's environment`);
  }
  const nodeVersion = input.nodeVersion ?? process.versions.node;
  if (!/^\d+\.\d+\.\d+$/.test(nodeVersion)) throw new Error(`user data: ${JSON.stringify(nodeVersion)} is not a Node.js version`);
  if (!Number.isInteger(input.maxLifetimeSeconds) || input.maxLifetimeSeconds <= 0) {
    throw new Error(`user data: the maximum lifetime must be a positive whole number of seconds, got ${input.maxLifetimeSeconds}`);
  }
  const script = render("ec2-user-data.sh", { env, nodeVersion, maxLifetimeSeconds: String(input.maxLifetimeSeconds) });
  if (Buffer.byteLength(script) > USER_DATA_MAX_BYTES) throw new Error(`user data is ${Buffer.byteLength(script)} bytes, over EC2's ${USER_DATA_MAX_BYTES}`);
  return script;
}
