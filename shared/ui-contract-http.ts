import { z } from 'zod';

/**
 * The contract over HTTP (the headless control API): routes, the sign-in exchange and the
 * Server-Sent Events framing. Shared by the control server, its CLI client and the renderer's
 * HTTP transport so that all three speak the same wire. Pure module: zod only.
 */

export const CONTROL_ROUTES = {
  /** `POST /api/call/<method>` with the method's input as JSON; answers a CallResult. */
  callPrefix: '/api/call/',
  /** `GET /api/events`: text/event-stream, one AgentEvent as JSON per `data:` frame. */
  events: '/api/events',
  /** `POST /api/session` `{code}` (no auth): trades a single-use login code for the token. */
  session: '/api/session',
  /** `POST /api/login-link` (auth): a fresh single-use sign-in link, for `ferry ui`. */
  loginLink: '/api/login-link',
} as const;

export const LoginLinkReply = z.object({ url: z.string().url() });

/** The URL fragment that carries a login code into the page: `#login=<code>`. */
export const LOGIN_FRAGMENT_PREFIX = '#login=';

export const SessionRequest = z.strictObject({ code: z.string().min(1).max(256) });
export const SessionReply = z.object({ token: z.string().min(1) });
export type SessionReply = z.infer<typeof SessionReply>;

/**
 * Incremental SSE decoder: feed text chunks, get the `data` of each complete event.
 * Comments (heartbeats) and other fields are skipped; multi-line data is joined by "\n".
 */
export class SseDecoder {
  private buffer = '';

  push(chunk: string): string[] {
    this.buffer += chunk;
    const out: string[] = [];
    let boundary: number;
    while ((boundary = this.nextBoundary()) >= 0) {
      const block = this.buffer.slice(0, boundary);
      this.buffer = this.buffer.slice(boundary).replace(/^(\r\n\r\n|\n\n|\r\r)/, '');
      const data = block
        .split(/\r\n|\n|\r/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length) out.push(data.join('\n'));
    }
    return out;
  }

  private nextBoundary(): number {
    const candidates = ['\n\n', '\r\n\r\n', '\r\r'].map((sep) => this.buffer.indexOf(sep)).filter((i) => i >= 0);
    return candidates.length ? Math.min(...candidates) : -1;
  }
}

/** One SSE frame carrying a JSON payload. */
export function encodeSseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}
