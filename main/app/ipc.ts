import type { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import { IPC_CHANNEL_PREFIX, IPC_EVENT_CHANNEL, methodNames, methods, type AgentService, type CallResult } from '../../shared/ui-contract';
import type { Logger } from '../logging';
import { invokeCall } from '../ui-adapter/call';
import { isAppUrl } from './origin';

/**
 * One `ipcMain.handle` per contract method (plus the shell's own extras). Every message is
 * checked for its sender, then runs through the call core shared with the control API
 * (main/ui-adapter/call.ts): input parsed, output validated, errors included answered as the
 * CallResult envelope. The renderer never sees a rejected promise or an unvalidated object.
 */

/** The part of an IpcMainInvokeEvent we look at. */
export interface InvokeEventLike {
  senderFrame: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** An action only the shell can do (a system dialog…), with its own schemas. */
export interface ExtraHandler<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  input: I;
  output: O;
  handle(input: z.output<I>, event: InvokeEventLike): Promise<z.input<O>>;
}

export function extraHandler<I extends z.ZodType, O extends z.ZodType>(handler: ExtraHandler<I, O>): ExtraHandler {
  return handler as unknown as ExtraHandler;
}

export interface IpcOptions {
  ipcMain: IpcMainLike;
  service: AgentService;
  isTrustedSender?: (event: InvokeEventLike) => boolean;
  extra?: Record<string, ExtraHandler>;
  log: Logger;
}

export const channelFor = (name: string): string => `${IPC_CHANNEL_PREFIX}${name}`;

/** Only frames showing our own bundle may call: not a stray page, not a subframe of another origin. */
export function isTrustedSender(event: InvokeEventLike): boolean {
  return event.senderFrame !== null && isAppUrl(event.senderFrame.url);
}

/** Registers every handler; returns a function that removes them all. */
export function registerIpcHandlers(options: IpcOptions): () => void {
  const { ipcMain, service, log } = options;
  const trusted = options.isTrustedSender ?? isTrustedSender;
  const extra = options.extra ?? {};
  const channels: string[] = [];

  for (const name of Object.keys(extra)) {
    if ((methodNames as string[]).includes(name) || channelFor(name) === IPC_EVENT_CHANNEL) {
      throw new FerryError('invalid_handler', `extra IPC handler "${name}" collides with the contract`);
    }
  }

  const register = (name: string, schemas: { input: z.ZodType; output: z.ZodType }, run: (input: unknown, event: InvokeEventLike) => Promise<unknown>) => {
    const channel = channelFor(name);
    channels.push(channel);
    ipcMain.handle(channel, async (event, ...args): Promise<CallResult<unknown>> => {
      if (!trusted(event)) {
        log.warn('ipc refused: untrusted sender', { channel, frame: event.senderFrame ? originOf(event.senderFrame.url) : 'none' });
        return { ok: false, error: { code: 'forbidden', message: 'This page may not talk to Ferry.', retryable: false } };
      }
      // The same call core as the control API, so both transports answer alike.
      return (await invokeCall(name, schemas, (input) => run(input, event), args[0], log)).result;
    });
  };

  for (const name of methodNames) {
    // The core parses the input with methods[name].input before the handler sees it.
    register(name, methods[name], (input) => (service.handlers[name] as (input: unknown) => Promise<unknown>)(input));
  }
  for (const [name, handler] of Object.entries(extra)) {
    register(name, handler, (input, event) => handler.handle(input, event));
  }

  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}

function originOf(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}`;
  } catch {
    return '(unparseable)';
  }
}
