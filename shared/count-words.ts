/** "1 file", "2 files", "1,000 files": a count with its noun, singular for one (every surface says counts so). */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? noun : plural}`;
}
