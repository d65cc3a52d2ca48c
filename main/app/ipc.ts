import { z } from 'zod';
import { FerryError } from '../../protocol/errors';
import {
  IPC_CHANNEL_PREFIX,
  IPC_EVENT_CHANNEL,
  fieldErrors,
  methodNames,
  methods,
  type AgentService,
  type CallError,
  type CallResult,
  type MethodName,
} from '../../preload/contract';
import type { Logger } from '../logging';
import { isAppUrl } from './origin';

/**
 * One `ipcMain.handle` per contract method (plus the shell's own extras). Every message is
 * checked for its sender, its input parsed with the contract's schema, its output validated,
 * and everything (errors included) answered as the CallResult envelope: the renderer never
 * sees a rejected promise or an unvalidated object.
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

export function toCallError(error: unknown): CallError {
  if (error instanceof z.ZodError) {
    return { code: 'invalid_input', message: 'Some values are not valid.', retryable: false, fields: fieldErrors(error) };
  }
  if (error instanceof FerryError) {
    const fields = error.details?.['fields'];
    const callError: CallError = { code: error.code, message: error.message, retryable: error.retryable };
    if (isStringRecord(fields)) callError.fields = fields;
    return callError;
  }
  return { code: 'internal', message: 'Something went wrong inside Ferry; the logs have the details.', retryable: false };
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
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
      const parsed = schemas.input.safeParse(args[0]);
      if (!parsed.success) return { ok: false, error: toCallError(parsed.error) };
      let raw: unknown;
      try {
        raw = await run(parsed.data, event);
      } catch (error) {
        const callError = toCallError(error);
        if (callError.code === 'internal') log.error('ipc handler failed', { channel, error });
        else log.info('ipc call refused', { channel, code: callError.code });
        return { ok: false, error: callError };
      }
      const output = schemas.output.safeParse(raw);
      if (!output.success) {
        // A bug on our side; the renderer gets a plain error, the log the details.
        log.error('ipc handler returned an invalid value', { channel, issues: output.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
        return { ok: false, error: { code: 'invalid_output', message: 'Ferry answered with something unexpected; the logs have the details.', retryable: false } };
      }
      return { ok: true, value: output.data };
    });
  };

  for (const name of methodNames) {
    register(name, methods[name], (input) => callMethod(service, name, input));
  }
  for (const [name, handler] of Object.entries(extra)) {
    register(name, handler, (input, event) => handler.handle(input, event));
  }

  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}

function callMethod(service: AgentService, name: MethodName, input: unknown): Promise<unknown> {
  // The input was parsed with methods[name].input just before, so it has this method's type.
  const handler = service.handlers[name] as (input: unknown) => Promise<unknown>;
  return handler(input);
}

function originOf(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}`;
  } catch {
    return '(unparseable)';
  }
}
