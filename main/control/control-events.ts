import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeSseData } from '../../shared/ui-contract-http';
import type { AgentEvent, AgentService } from '../../shared/ui-contract';
import type { Logger } from '../logging';

export const HEARTBEAT_MS = 15_000;

/**
 * Streams AgentEvents to one client as Server-Sent Events. The first frame is the current
 * status, so a client that (re)connects never shows state from before a gap. Heartbeat
 * comments keep proxies and idle timers from closing the stream; everything is released
 * when either side goes away.
 */
export function streamEvents(
  req: IncomingMessage,
  res: ServerResponse,
  service: AgentService,
  options: { heartbeatMs: number; log: Logger; onClose(): void },
): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Content-Type-Options': 'nosniff',
    // Proxies that buffer would hold events back.
    'X-Accel-Buffering': 'no',
  });
  res.write(': connected\n\n');
  const send = (event: AgentEvent) => {
    if (!res.writableEnded) res.write(encodeSseData(event));
  };
  const unsubscribe = service.subscribe(send);
  service.handlers
    .getStatus({})
    .then((status) => send({ type: 'status', status }))
    .catch((error: unknown) => options.log.warn('could not send the initial status', { error: String(error) }));
  const heartbeat = setInterval(() => {
    if (!res.writableEnded) res.write(': heartbeat\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe();
    if (!res.writableEnded) res.end();
    options.onClose();
  };
  req.on('close', close);
  res.on('close', close);
  res.on('error', close);
}
