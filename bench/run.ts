import type { Benchmark } from "./report.js";
import { printFigure } from "./report.js";

/**
 * `npm run bench`: runs every benchmark (or those named on the command line, e.g.
 * `npm run bench -- spine`), one after the other so they never compete for the CPU.
 */
const BENCHMARKS: Record<string, () => Promise<{ default: Benchmark }>> = {
  spine: () => import("./spine.js"),
  workflow: () => import("./workflow-plan.js"),
  ec2: () => import("./ec2.js"),
  cli: () => import("./cli-api.js"),
  web: () => import("./web-page.js"),
  scale: () => import("./scale.js"),
  budget: () => import("./budget.js"),
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !(w in BENCHMARKS));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(", ")}; there are: ${Object.keys(BENCHMARKS).join(", ")}`);
  for (const [name, load] of Object.entries(BENCHMARKS)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const bench = (await load()).default;
    process.stdout.write(`# ${bench.name}\n`);
    await bench.run(printFigure);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
