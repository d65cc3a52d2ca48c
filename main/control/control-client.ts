import { existsSync } from 'node:fs';
import path from 'node:path';
import { FerryError } from '../../protocol/errors';
import { AgentEvent, CallError, methods } from '../../shared/ui-contract';
import type { MethodInput, MethodName, MethodOutput } from '../../shared/ui-contract';
import { CONTROL_ROUTES, LoginLinkReply, SseDecoder } from '../../shared/ui-contract-http';
import { readAgentInfo, readControlToken, SETTINGS_FILE } from './control-token';

/**
 * A typed client of the control API for the CLI: the same methods as the UI, answers
 * validated against the contract, failures thrown as FerryError with the agent's code.
 */
export interface ControlClient {
  readonly url: string;
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  /** A fresh single-use sign-in link to the web UI. */
  loginLink(): Promise<string>;
  /** The live event stream; ends when the agent closes it or `signal` aborts. */
  events(signal?: AbortSignal): AsyncGenerator<AgentEvent>;
}

export interface ControlClientOptions {
  url: string;
  token: string;
  fetch?: typeof fetch;
}

export function createControlClient(options: ControlClientOptions): ControlClient {
  const doFetch = options.fetch ?? fetch;
  const base = options.url.replace(/\/+$/, '');
  const auth = { Authorization: `Bearer ${options.token}` };

  async function request(path: string, init: RequestInit): Promise<Response> {
    try {
      return await doFetch(base + path, { ...init, headers: { ...auth, ...init.headers } });
    } catch (error) {
      throw new FerryError('agent_unreachable', `cannot reach the Ferry agent at ${base}`, { retryable: true, cause: error });
    }
  }

  return {
    url: base,
    async call(method, input) {
      const res = await request(CONTROL_ROUTES.callPrefix + method, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(input ?? {}),
      });
      const body = (await res.json().catch(() => undefined)) as { ok?: unknown; value?: unknown; error?: unknown } | undefined;
      if (body?.ok === true) return methods[method].output.parse(body.value) as MethodOutput<typeof method>;
      const error = CallError.safeParse(body?.error);
      if (!error.success) throw new FerryError('malformed_reply', `the agent answered HTTP ${res.status} without a valid body`, { status: res.status });
      throw new FerryError(error.data.code, error.data.message, {
        retryable: error.data.retryable,
        status: res.status,
        ...(error.data.fields ? { details: { fields: error.data.fields } } : {}),
      });
    },
    async loginLink() {
      const res = await request(CONTROL_ROUTES.loginLink, { method: 'POST' });
      const body = (await res.json().catch(() => undefined)) as { ok?: unknown; value?: unknown } | undefined;
      const reply = LoginLinkReply.safeParse(body?.value);
      if (body?.ok !== true || !reply.success) throw new FerryError('malformed_reply', `the agent gave no sign-in link (HTTP ${res.status})`, { status: res.status });
      return reply.data.url;
    },
    async *events(signal) {
      const res = await request(CONTROL_ROUTES.events, { headers: { Accept: 'text/event-stream' }, ...(signal ? { signal } : {}) });
      if (!res.ok || !res.body) throw new FerryError('events_refused', `the agent refused the event stream (HTTP ${res.status})`, { status: res.status });
      const decoder = new SseDecoder();
      const text = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const data of decoder.push(text.decode(chunk, { stream: true }))) yield AgentEvent.parse(JSON.parse(data));
        }
      } catch (error) {
        if (signal?.aborted) return;
        throw error;
      }
    },
  };
}

export function agentNotRunningMessage(dir: string): string {
  return `No Ferry agent is running for ${dir} (start one with: ${agentStartCommand(dir)})`;
}

/** The command that starts the agent of DIR. */
export function agentStartCommand(dir: string): string {
  // A data directory `ferry start` (or `npm start`) made holds its embedded server: started the
  // same way, or the agent finds no server (a new-user try followed `ferry agent` there).
  // Its settings kept there: nothing more to give (a new-user try read the "..." as flags needed).
  return existsSync(path.join(dir, 'server')) ? `ferry start --data ${dir}` : existsSync(path.join(dir, SETTINGS_FILE)) ? `ferry agent --data ${dir}` : `ferry agent --data ${dir} ...`;
}

/**
 * `agent_unreachable`: its agent.json names a process alive that does not answer (stopped with
 * Ctrl-Z, stopping, or its pid taken by another process once it died): what to do, as
 * agent_not_running says (a new-user try read only "cannot reach the Ferry agent").
 */
export function agentUnreachableHint(dir: string): string {
  return `it does not answer: if it was stopped with Ctrl-Z, 'fg' in its terminal resumes it; if it is not running, start it with: ${agentStartCommand(dir)}`;
}

/** Finds the agent serving DIR (DIR/agent.json + DIR/control-token) or throws `agent_not_running`. */
export async function connectToAgent(dir: string, options: { fetch?: typeof fetch } = {}): Promise<ControlClient> {
  const [info, token] = await Promise.all([readAgentInfo(dir), readControlToken(dir)]);
  if (!info || !token) throw new FerryError('agent_not_running', agentNotRunningMessage(dir));
  return createControlClient({ url: info.controlUrl, token, ...options });
}
