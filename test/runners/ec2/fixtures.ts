import { EC2ServiceException } from "@aws-sdk/client-ec2";
import type { Ec2Config } from "../../../src/config.js";
import type { Resources, Workflow } from "../../../src/workflow/types.js";

/** A bash workflow asking for `resources`. */
export function workflowWith(resources: Partial<Resources>, name = "train"): Workflow {
  return {
    name,
    provider: "bash",
    args: [],
    commands: ["echo hello"],
    setup: [],
    env: {},
    artifacts: [],
    resources: { interruptible: false, ...resources },
    dependsOn: [],
    on: {},
    source: { file: ".dstack/workflows.yaml", line: 2, column: 5 },
  };
}

export const EC2_CONFIG: Ec2Config = Object.freeze({
  region: "us-east-1",
  subnets: ["subnet-0a", "subnet-0b"],
  securityGroups: ["sg-0123"],
  ami: "ami-0abc",
  instanceProfile: "dstack-runner",
  families: [],
  maxInstances: 8,
  spotFallback: false,
  resumeMarket: "spot",
});

/** An error as the SDK throws it for an EC2 error code. */
export function ec2Error(code: string, message = `${code} (test)`): EC2ServiceException {
  return new EC2ServiceException({ name: code, $fault: "client", $metadata: { httpStatusCode: 400 }, message });
}

export const AGENT_ENV = {
  DSTACK_AGENT_URL: "https://dstack.example.com",
  DSTACK_AGENT_RUN_ID: "r-1",
  DSTACK_AGENT_TOKEN: "run-scoped-token-0123456789",
};
