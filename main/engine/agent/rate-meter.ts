/**
 * A rate over a sliding window (default 5 s): what the UI shows as "3.4 MB/s" right now,
 * falling back to zero once nothing moves.
 */
export class RateMeter {
  private readonly samples: Array<{ at: number; amount: number }> = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  add(amount: number): void {
    this.samples.push({ at: this.now(), amount });
    this.trim();
  }

  /** Units per second over the window. */
  perSecond(): number {
    this.trim();
    const total = this.samples.reduce((sum, s) => sum + s.amount, 0);
    return total / (this.windowMs / 1000);
  }

  /** Milliseconds since the last amount was added (Infinity before the first). */
  quietForMs(): number {
    const last = this.samples.at(-1);
    return last ? this.now() - last.at : Number.POSITIVE_INFINITY;
  }

  private trim(): void {
    const oldest = this.now() - this.windowMs;
    while (this.samples.length && this.samples[0]!.at < oldest) this.samples.shift();
  }
}
