import { formatBytes } from "./format.js";

/** Redraws at most this often: a terminal cannot show more, and each redraw costs. */
const REDRAW_MS = 100;

/**
 * A one-line progress bar on a terminal (`write` is stderr when it is a TTY); without `write`
 * (piped, redirected) it draws nothing at all.
 */
export class ProgressBar {
  private done_ = 0;
  private lastDraw = 0;

  constructor(
    private readonly write: ((text: string) => void) | undefined,
    private readonly totalBytes: number,
  ) {}

  add(bytes: number): void {
    this.done_ += bytes;
    const now = Date.now();
    if (this.write === undefined || now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    this.draw();
  }

  done(): void {
    if (this.write === undefined) return;
    this.draw();
    this.write("\n");
  }

  private draw(): void {
    const fraction = this.totalBytes === 0 ? 1 : Math.min(1, this.done_ / this.totalBytes);
    const width = 30;
    const filled = Math.round(fraction * width);
    this.write?.(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${formatBytes(this.done_)} of ${formatBytes(this.totalBytes)}`);
  }
}
