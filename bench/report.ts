/** One figure of a benchmark: printed as `name: value unit`, one line each. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** Context printed after the figure (e.g. the target it is measured against). */
  note?: string;
}

export type Report = (figure: Figure) => void;

/** A benchmark module: measures and reports its figures; it starts and stops whatever it needs. */
export interface Benchmark {
  name: string;
  run(report: Report): Promise<void>;
}

/** Prints a figure with up to three decimals, as `name: value unit (note)`. */
export function printFigure(figure: Figure): void {
  const value = Number.isInteger(figure.value) ? String(figure.value) : figure.value.toFixed(Math.abs(figure.value) >= 100 ? 1 : 3);
  process.stdout.write(`${figure.name}: ${value} ${figure.unit}${figure.note !== undefined ? `  (${figure.note})` : ""}\n`);
}

/** The q-quantile (0..1) of samples, nearest-rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}
