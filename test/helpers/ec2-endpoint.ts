import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Ec2Api, Ec2Instance, RunInstancesCommandInput } from "../../runners/ec2/ec2-api.js";

/**
 * The EC2 Query API (`AWS_ENDPOINT_URL_EC2`) over an `Ec2Api` (the EC2 simulator), for service
 * processes the test spawns: aws-sdk-client-mock patches a client inside one process, so a child
 * process reaches EC2 the way it does in production, through the real SDK over HTTP. It serves
 * RunInstances (with EC2's client-token idempotency: the same token and parameters answer the
 * instance already started, the same token with other parameters `IdempotentParameterMismatch`),
 * DescribeInstances (instance ids; `tag:*`, `instance-state-name` and `client-token` filters) and
 * TerminateInstances. Credentials are not checked.
 */
export interface Ec2Endpoint {
  url: string;
  /** Every RunInstances request, in order: its client token and what it answered. */
  readonly runInstances: Array<{ clientToken?: string; instanceId?: string; error?: string }>;
  close(): Promise<void>;
}

const XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";
const STATE_CODES: Record<string, number> = { pending: 0, running: 16, "shutting-down": 32, terminated: 48, stopping: 64, stopped: 80 };

export async function startEc2Endpoint(api: Ec2Api): Promise<Ec2Endpoint> {
  const runInstances: Ec2Endpoint["runInstances"] = [];
  /** Client token -> the request's parameters and the instance it started. */
  const tokens = new Map<string, { params: string; instanceId: string }>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      answer(params).then(
        (xml) => send(res, 200, xml),
        (err: unknown) => {
          const code = err instanceof Ec2Error ? err.code : "InternalError";
          send(res, err instanceof Ec2Error ? 400 : 500, `<Response><Errors><Error><Code>${code}</Code><Message>${escape(String(err instanceof Error ? err.message : err))}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`);
        },
      );
    });
  });

  async function answer(params: URLSearchParams): Promise<string> {
    const action = params.get("Action");
    switch (action) {
      case "RunInstances":
        return runInstancesXml(params);
      case "DescribeInstances": {
        const ids = indexed(params, "InstanceId");
        const filters = new Map<string, string[]>();
        for (let n = 1; params.has(`Filter.${n}.Name`); n++) filters.set(params.get(`Filter.${n}.Name`) ?? "", indexed(params, `Filter.${n}.Value`));
        const tags: Record<string, string> = {};
        for (const [name, values] of filters) if (name.startsWith("tag:")) tags[name.slice(4)] = values[0] ?? "";
        const token = filters.get("client-token")?.[0];
        const found = ids.length > 0 ? await api.describeInstances({ instanceIds: ids }) : await api.describeInstances({ tags, states: filters.get("instance-state-name") });
        const matching = found.filter((i) => token === undefined || tokens.get(token)?.instanceId === i.instanceId);
        return `<DescribeInstancesResponse xmlns="${XMLNS}"><requestId>${requestId()}</requestId><reservationSet>${matching
          .map((i) => `<item><reservationId>r-${i.instanceId.slice(2)}</reservationId><instancesSet>${instanceXml(i)}</instancesSet></item>`)
          .join("")}</reservationSet></DescribeInstancesResponse>`;
      }
      case "TerminateInstances": {
        const ids = indexed(params, "InstanceId");
        await api.terminateInstances(ids);
        const items = ids.map((id) => `<item><instanceId>${escape(id)}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState></item>`);
        return `<TerminateInstancesResponse xmlns="${XMLNS}"><requestId>${requestId()}</requestId><instancesSet>${items.join("")}</instancesSet></TerminateInstancesResponse>`;
      }
      default:
        throw new Ec2Error("InvalidAction", `this endpoint does not serve ${action ?? "(no action)"}`);
    }
  }

  async function runInstancesXml(params: URLSearchParams): Promise<string> {
    const clientToken = params.get("ClientToken") ?? undefined;
    const rest = [...params.entries()].filter(([k]) => k !== "ClientToken").sort(([a], [b]) => a.localeCompare(b));
    const key = JSON.stringify(rest);
    const earlier = clientToken === undefined ? undefined : tokens.get(clientToken);
    if (earlier !== undefined && earlier.params !== key) {
      runInstances.push({ clientToken, error: "IdempotentParameterMismatch" });
      throw new Ec2Error("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).");
    }
    let instance: Ec2Instance | undefined;
    if (earlier !== undefined) [instance] = await api.describeInstances({ instanceIds: [earlier.instanceId] });
    instance ??= await api.runInstances(runInput(params));
    if (clientToken !== undefined) tokens.set(clientToken, { params: key, instanceId: instance.instanceId });
    runInstances.push({ clientToken, instanceId: instance.instanceId });
    return `<RunInstancesResponse xmlns="${XMLNS}"><requestId>${requestId()}</requestId><reservationId>r-${instance.instanceId.slice(2)}</reservationId><ownerId>123456789012</ownerId><instancesSet>${instanceXml(instance, clientToken)}</instancesSet></RunInstancesResponse>`;
  }

  function instanceXml(i: Ec2Instance, clientToken = [...tokens].find(([, v]) => v.instanceId === i.instanceId)?.[0]): string {
    const tags = Object.entries(i.tags).map(([k, v]) => `<item><key>${escape(k)}</key><value>${escape(v)}</value></item>`);
    return `<item><instanceId>${escape(i.instanceId)}</instanceId>${i.instanceType !== undefined ? `<instanceType>${escape(i.instanceType)}</instanceType>` : ""}<instanceState><code>${STATE_CODES[i.state] ?? 0}</code><name>${escape(i.state)}</name></instanceState>${
      i.zone !== undefined ? `<placement><availabilityZone>${escape(i.zone)}</availabilityZone></placement>` : ""
    }${i.launchTime !== undefined ? `<launchTime>${i.launchTime.toISOString()}</launchTime>` : ""}${clientToken !== undefined ? `<clientToken>${escape(clientToken)}</clientToken>` : ""}<tagSet>${tags.join("")}</tagSet></item>`;
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    runInstances,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The parts of a RunInstances request the simulator reads. */
function runInput(params: URLSearchParams): RunInstancesCommandInput {
  const specs: NonNullable<RunInstancesCommandInput["TagSpecifications"]> = [];
  for (let n = 1; params.has(`TagSpecification.${n}.ResourceType`); n++) {
    const tags = [];
    for (let m = 1; params.has(`TagSpecification.${n}.Tag.${m}.Key`); m++) tags.push({ Key: params.get(`TagSpecification.${n}.Tag.${m}.Key`) ?? "", Value: params.get(`TagSpecification.${n}.Tag.${m}.Value`) ?? "" });
    specs.push({ ResourceType: params.get(`TagSpecification.${n}.ResourceType`) as "instance", Tags: tags });
  }
  const market = params.get("InstanceMarketOptions.MarketType");
  return {
    ImageId: params.get("ImageId") ?? undefined,
    InstanceType: (params.get("InstanceType") ?? undefined) as RunInstancesCommandInput["InstanceType"],
    MinCount: Number(params.get("MinCount")),
    MaxCount: Number(params.get("MaxCount")),
    UserData: params.get("UserData") ?? undefined,
    ClientToken: params.get("ClientToken") ?? undefined,
    TagSpecifications: specs,
    ...(market !== null ? { InstanceMarketOptions: { MarketType: market as "spot" } } : {}),
  };
}

/** `Name.1`, `Name.2`, ... in order. */
function indexed(params: URLSearchParams, name: string): string[] {
  const values: string[] = [];
  for (let n = 1; params.has(`${name}.${n}`); n++) values.push(params.get(`${name}.${n}`) ?? "");
  return values;
}

function send(res: http.ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`);
}

function requestId(): string {
  return randomBytes(16).toString("hex");
}

function escape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
