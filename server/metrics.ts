import type { TaskOutcome } from './tasks';

/** Upper bounds of the request latency histogram, in seconds. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/** What `/metrics` reads from the database and the feed at scrape time. */
export interface MetricsSnapshot {
  /** Unfinished tasks by state, from the shared tasks table (every process's). */
  tasks: Record<'Queued' | 'Processing', number>;
  /** Blocks a version refers to whose bytes the store lost, not uploaded again yet (server/lost-blocks.ts). */
  lostBlocks: number;
  longPollsWaiting: number;
  /** Request body bytes held in memory right now, across requests (the budget that answers 503). */
  bodyBytesBuffered: number;
  /** The last garbage collection of this process, when one ran (it walks every block). */
  lastGc: { at: number; liveBlocks: number; bytesStored: number } | null;
}

/**
 * The process's counters in the Prometheus text format (docs/sync-api.md, "Operations").
 * Labels are route templates, methods, statuses and outcomes only: never a path, a folder, a
 * device or a token, so the page can be scraped without the bearer token.
 */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly taskRuns = new Map<TaskOutcome, number>();
  private blocksStored = 0;
  private blockBytesStored = 0;

  request(route: string, method: string, status: number | 'aborted', seconds: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `route="${route}",method="${method}"`;
    let h = this.latency.get(hkey);
    if (!h) this.latency.set(hkey, (h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }));
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) h.counts[i]! += 1;
    });
    h.sum += seconds;
    h.count += 1;
  }

  taskEnded(outcome: TaskOutcome): void {
    if (outcome !== 'skipped') this.taskRuns.set(outcome, (this.taskRuns.get(outcome) ?? 0) + 1);
  }

  blockWritten(stored: boolean, bytes: number): void {
    if (!stored) return;
    this.blocksStored += 1;
    this.blockBytesStored += bytes;
  }

  render(now: MetricsSnapshot): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string, samples: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    family('ferry_http_requests_total', 'counter', 'Requests answered, by route template, method and status.', [...this.requests].map(([labels, n]) => `ferry_http_requests_total{${labels}} ${n}`));
    const latency: string[] = [];
    for (const [labels, h] of this.latency) {
      LATENCY_BUCKETS.forEach((bound, i) => latency.push(`ferry_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${h.counts[i]}`));
      latency.push(`ferry_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      latency.push(`ferry_http_request_duration_seconds_sum{${labels}} ${h.sum}`, `ferry_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    family('ferry_http_request_duration_seconds', 'histogram', 'Time from a request arriving to its answer.', latency);
    family('ferry_tasks', 'gauge', 'Unfinished batch tasks by state (all processes sharing the database).', [
      `ferry_tasks{state="Queued"} ${now.tasks.Queued}`,
      `ferry_tasks{state="Processing"} ${now.tasks.Processing}`,
    ]);
    family('ferry_blocks_lost', 'gauge', 'Blocks a stored version refers to whose bytes the store lost (all processes); 0 once uploaded again and reported since.', [`ferry_blocks_lost ${now.lostBlocks}`]);
    family('ferry_task_runs_total', 'counter', 'Task runs of this process, by how they ended.', [...this.taskRuns].map(([outcome, n]) => `ferry_task_runs_total{outcome="${outcome}"} ${n}`));
    family('ferry_long_polls_waiting', 'gauge', 'Long polls waiting on this process.', [`ferry_long_polls_waiting ${now.longPollsWaiting}`]);
    family('ferry_request_body_bytes_buffered', 'gauge', 'Request body bytes held in memory on this process (over the budget a body is refused with 503).', [`ferry_request_body_bytes_buffered ${now.bodyBytesBuffered}`]);
    family('ferry_blocks_written_total', 'counter', 'Blocks newly stored through this process.', [`ferry_blocks_written_total ${this.blocksStored}`]);
    family('ferry_block_bytes_written_total', 'counter', 'Bytes of the blocks newly stored through this process.', [`ferry_block_bytes_written_total ${this.blockBytesStored}`]);
    if (now.lastGc) {
      family('ferry_blocks_live', 'gauge', 'Blocks some retained revision refers to, at the last garbage collection.', [`ferry_blocks_live ${now.lastGc.liveBlocks}`]);
      family('ferry_block_bytes_stored', 'gauge', 'Bytes in the block store after the last garbage collection.', [`ferry_block_bytes_stored ${now.lastGc.bytesStored}`]);
      family('ferry_gc_last_run_timestamp_seconds', 'gauge', 'When the last garbage collection of this process ended.', [`ferry_gc_last_run_timestamp_seconds ${Math.floor(now.lastGc.at / 1000)}`]);
    }
    return out.join('\n') + '\n';
  }
}
