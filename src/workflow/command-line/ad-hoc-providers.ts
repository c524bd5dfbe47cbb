import { shellJoin } from "../shell-quote.js";
import type { AdHocState } from "./ad-hoc-flags.js";
import {
  artifactFlag,
  baseFlags,
  commandFlag,
  depFlag,
  logdirFlag,
  nnodesFlag,
  outputFlag,
  portsFlag,
  versionFlag,
} from "./ad-hoc-flags.js";
import type { ArgvHandlers } from "./parse-argv.js";
import { resourceFlags } from "./resource-flags.js";

/** How one provider reads its ad-hoc arguments (`dstack run PROVIDER ARGS`), and what it cannot run without. */
export interface AdHocProvider {
  /** Usage line for messages. */
  usage: string;
  handlers: ArgvHandlers<AdHocState>;
  /** Returns an error message when a required part is missing. */
  check(state: AdHocState): string | undefined;
}

const strict = (what: string) => (_: AdHocState, token: string, __: unknown, option: boolean) =>
  option ? `unknown option \`${token}\` for ${what}` : `unexpected argument \`${token}\` for ${what}`;

/** `python FILE [ARGS]`-like: the first positional is the file; unknown options and the rest go to the program. */
function script(id: string, field: "file", extra: AdHocProvider["handlers"]["flags"] = []): AdHocProvider {
  return {
    usage: `${id} FILE [ARGS...]`,
    handlers: {
      flags: [...baseFlags, versionFlag, ...extra],
      other(state, token, _at, option, quoted) {
        if (state.workflow[field] === undefined && !option && !quoted) state.workflow[field] = token;
        else state.workflow.args.push(token);
        return undefined;
      },
    },
    check: (state) => (state.workflow[field] === undefined ? `\`${id}\` needs the file to run: \`dstack run ${id} FILE [ARGS...]\`` : undefined),
  };
}

function devEnvironment(id: string): AdHocProvider {
  return {
    usage: id,
    handlers: { flags: [...baseFlags, versionFlag], other: strict(`\`${id}\` (it takes no file or arguments)`) },
    check: () => undefined,
  };
}

/** Ad-hoc forms per provider, as the 2022 CLI parsed them (`--dep` included, as documented). */
export const AD_HOC_PROVIDERS: ReadonlyMap<string, AdHocProvider> = new Map<string, AdHocProvider>([
  ["python", script("python", "file")],
  ["torchrun", script("torchrun", "file", [nnodesFlag])],
  ["streamlit", script("streamlit", "file")],
  ["gradio", script("gradio", "file")],
  [
    "fastapi",
    {
      usage: "fastapi APP",
      handlers: {
        flags: [...baseFlags, versionFlag],
        other(state, token, at, option, quoted) {
          if (state.workflow.app === undefined && !option && !quoted) {
            state.workflow.app = token;
            return undefined;
          }
          return strict("`fastapi` (it takes one APP, e.g. `main:app`)")(state, token, at, option);
        },
      },
      check: (state) => (state.workflow.app === undefined ? "`fastapi` needs the app to serve: `dstack run fastapi main:app`" : undefined),
    },
  ],
  ["code", devEnvironment("code")],
  ["lab", devEnvironment("lab")],
  ["notebook", devEnvironment("notebook")],
  [
    "bash",
    {
      usage: 'bash -c "COMMAND"',
      handlers: { flags: [...baseFlags, versionFlag, commandFlag, portsFlag], other: strict('`bash` (pass the commands with `-c "..."`)') },
      check: (state) => (state.workflow.commands.length === 0 ? '`bash` needs a command: `dstack run bash -c "python train.py"`' : undefined),
    },
  ],
  [
    "docker",
    {
      usage: "docker IMAGE [COMMAND [ARGS...]]",
      handlers: {
        flags: [...baseFlags.filter((f) => !f.names.includes("-r")), commandFlag, portsFlag],
        other(state, token, _at, option) {
          if (state.workflow.image !== undefined) return "rest";
          if (option) return `unknown option \`${token}\` for \`docker\``;
          state.workflow.image = token;
          return undefined;
        },
        rest(state, tokens) {
          state.workflow.commands.push(shellJoin(tokens));
        },
      },
      check: (state) => (state.workflow.image === undefined ? "`docker` needs an image: `dstack run docker IMAGE [COMMAND]`, e.g. `dstack run docker ubuntu -c \"echo hi\"`" : undefined),
    },
  ],
  [
    "curl",
    {
      usage: "curl URL -o OUTPUT -a ARTIFACT",
      handlers: {
        flags: [outputFlag, artifactFlag, depFlag],
        other(state, token, at, option, quoted) {
          if (state.workflow.url === undefined && !option && !quoted) {
            if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(token)) return `\`${token}\` is not a URL; \`curl\` downloads one, e.g. \`https://example.com/data.csv\``;
            state.workflow.url = token;
            return undefined;
          }
          return strict("`curl` (it takes URL, `-o OUTPUT` and `-a ARTIFACT`)")(state, token, at, option);
        },
      },
      check(state) {
        if (state.workflow.url === undefined) return "`curl` needs a URL: `dstack run curl URL -o OUTPUT -a ARTIFACT`";
        if (state.workflow.output === undefined) return "`curl` needs `-o OUTPUT`, where to save the download (and `-a` to keep it as an artifact)";
        return undefined;
      },
    },
  ],
  [
    "tensorboard",
    {
      usage: "tensorboard RUN [RUN...]",
      handlers: {
        flags: [logdirFlag, ...resourceFlags<AdHocState>()],
        other(state, token, at, option, quoted) {
          if (option && !quoted) return strict("`tensorboard`")(state, token, at, option);
          (state.workflow.runs ??= []).push(token);
          return undefined;
        },
      },
      check: (state) => ((state.workflow.runs ?? []).length === 0 ? "`tensorboard` needs the runs to show: `dstack run tensorboard RUN [RUN...]`" : undefined),
    },
  ],
]);
