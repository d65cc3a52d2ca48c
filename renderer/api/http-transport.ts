import { AgentEvent, CallError } from '../../shared/ui-contract';
import type { CallResult, FerryApi, MethodInput, MethodName, MethodOutput } from '../../shared/ui-contract';
import { CONTROL_ROUTES, SseDecoder } from '../../shared/ui-contract-http';
import { reconnectDelay } from './backoff';

/**
 * FerryApi over the headless control API: calls are POSTs to the same origin, events come
 * from one shared SSE stream read with fetch (EventSource cannot send the Bearer header),
 * reconnected with backoff. A 401 means the token is gone or wrong: the page signs out.
 */
export interface HttpTransportOptions {
  token: string;
  /** Same origin by default. */
  baseUrl?: string;
  onUnauthorized?: () => void;
  /** Told when the event stream connects or drops, for a "reconnecting" hint. */
  onConnectionChange?: (connected: boolean) => void;
  fetch?: typeof fetch;
}

export class HttpFerryApi implements FerryApi {
  private readonly listeners = new Set<(event: AgentEvent) => void>();
  private stream: AbortController | undefined;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: HttpTransportOptions) {
    this.doFetch = options.fetch ?? fetch.bind(globalThis);
  }

  async call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<CallResult<MethodOutput<M>>> {
    let res: Response;
    try {
      res = await this.doFetch(this.url(CONTROL_ROUTES.callPrefix + method), {
        method: 'POST',
        headers: { ...this.auth(), 'Content-Type': 'application/json' },
        body: JSON.stringify(input ?? {}),
      });
    } catch {
      return { ok: false, error: { code: 'network', message: 'The Ferry agent cannot be reached.', retryable: true } };
    }
    if (res.status === 401) this.options.onUnauthorized?.();
    const body = (await res.json().catch(() => undefined)) as { ok?: unknown; value?: unknown; error?: unknown } | undefined;
    if (body?.ok === true) return { ok: true, value: body.value as MethodOutput<M> };
    const error = CallError.safeParse(body?.error);
    return { ok: false, error: error.success ? error.data : { code: 'malformed_reply', message: `Unexpected answer (HTTP ${res.status}).`, retryable: true } };
  }

  subscribe(listener: (event: AgentEvent) => void): () => void {
    this.listeners.add(listener);
    if (!this.stream) this.openStream();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.stream?.abort();
        this.stream = undefined;
      }
    };
  }

  private openStream(): void {
    const controller = new AbortController();
    this.stream = controller;
    void this.pump(controller.signal);
  }

  private async pump(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const res = await this.doFetch(this.url(CONTROL_ROUTES.events), { headers: { ...this.auth(), Accept: 'text/event-stream' }, signal });
        if (res.status === 401) {
          this.options.onUnauthorized?.();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        attempt = 0;
        this.options.onConnectionChange?.(true);
        await this.read(res.body, signal);
      } catch {
        // Dropped or refused: fall through to the backoff below.
      }
      if (signal.aborted) return;
      this.options.onConnectionChange?.(false);
      await delay(reconnectDelay(attempt++), signal);
    }
  }

  private async read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
    const reader = body.getReader();
    const decoder = new SseDecoder();
    const text = new TextDecoder();
    try {
      while (!signal.aborted) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const data of decoder.push(text.decode(value, { stream: true }))) this.dispatch(data);
      }
    } finally {
      reader.releaseLock();
    }
  }

  private dispatch(data: string): void {
    let parsed: ReturnType<typeof AgentEvent.safeParse>;
    try {
      parsed = AgentEvent.safeParse(JSON.parse(data));
    } catch {
      return;
    }
    if (!parsed.success) return;
    for (const listener of [...this.listeners]) listener(parsed.data);
  }

  private auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.options.token}` };
  }

  private url(path: string): string {
    return (this.options.baseUrl ?? '') + path;
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
