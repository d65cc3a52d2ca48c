/**
 * How long ago, in the words the CLI and the agent's status lines use ("just now", "12 s ago",
 * "3 min ago", "2 h ago"); a day or more: the time itself.
 */
export function agoWords(at: number, now: number): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(at).toISOString();
}
