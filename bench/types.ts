/** One figure a benchmark reports, with the goal it is held to (printed beside it). */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
  /** Whether the figure meets its target, where the target is machine-checkable. */
  met?: boolean;
}

export function formatResult(r: BenchResult): string {
  const value = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(r.value >= 100 ? 0 : 2);
  const verdict = r.met === undefined ? '' : r.met ? '  ✓' : '  ✗ below target';
  return `${r.name.padEnd(52)} ${`${value} ${r.unit}`.padStart(18)}   target: ${r.target ?? '—'}${verdict}`;
}
