import { z } from 'zod';
import { API_ERRORS, isApiErrorCode, isFerryError } from '../../protocol/errors';
import { fieldErrors, methods } from '../../shared/ui-contract';
import type { CallError, CallResult, ContractHandlers, MethodName } from '../../shared/ui-contract';
import type { Logger } from '../logging';

/**
 * One call, transport-free, for IPC (main/app/ipc.ts) and HTTP (main/control) alike: validate
 * the input with the method's schema, run the handler, validate its output, and wrap it all in
 * the CallResult envelope with the HTTP status that fits (IPC ignores the status). Both
 * transports answer every error, an internal one included, with the same code and `retryable`.
 */
export interface CallOutcome {
  status: number;
  result: CallResult<unknown>;
}

export interface CallSpec {
  input: z.ZodType;
  output: z.ZodType;
}

/** An unexpected failure: the detail goes to the log, never into the answer. */
export const INTERNAL_ERROR: CallError = {
  code: 'internal',
  message: 'Something went wrong inside Ferry; the logs have the details.',
  retryable: false,
};

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name);
}

export function invokeContractMethod(handlers: ContractHandlers, method: MethodName, rawInput: unknown, log?: Logger): Promise<CallOutcome> {
  // The input is parsed with methods[method].input before the handler sees it.
  const handler = handlers[method] as (input: unknown) => Promise<unknown>;
  return invokeCall(method, methods[method], (input) => handler(input), rawInput, log);
}

export async function invokeCall(name: string, spec: CallSpec, run: (input: unknown) => Promise<unknown>, rawInput: unknown, log?: Logger): Promise<CallOutcome> {
  const input = spec.input.safeParse(rawInput);
  if (!input.success) {
    const code = name === 'updateSettings' ? 'invalid_settings' : 'invalid_input';
    return failure(400, { code, message: summarise(input.error), retryable: false, fields: fieldErrors(input.error) });
  }
  let output: unknown;
  try {
    output = await run(input.data);
  } catch (error) {
    const outcome = fromThrown(error, name, log);
    if (!outcome.result.ok && outcome.result.error.code !== 'internal') log?.info('call refused', { method: name, code: outcome.result.error.code });
    return outcome;
  }
  const checked = spec.output.safeParse(output);
  if (!checked.success) {
    // A bug on our side: the caller gets a plain error, the log the details.
    log?.error('handler answered outside the contract', { method: name, problem: summarise(checked.error) });
    return failure(500, { code: 'invalid_output', message: 'Ferry answered with something unexpected; the logs have the details.', retryable: false });
  }
  return { status: 200, result: { ok: true, value: checked.data } };
}

function fromThrown(error: unknown, method: string, log?: Logger): CallOutcome {
  if (isFerryError(error)) {
    const fields = stringRecord(error.details?.fields);
    const given = error.status ?? (isApiErrorCode(error.code) ? API_ERRORS[error.code].status : fields ? 400 : 409);
    // A handler's 401 is the sync server refusing this device's credentials, never this API's
    // own token (refused before any handler runs): as 401 the web UI took it for its own sign-out.
    const status = given === 401 ? 502 : given;
    return failure(status, { code: error.code, message: error.message, retryable: error.retryable, ...(fields ? { fields } : {}) });
  }
  if (error instanceof z.ZodError) {
    return failure(400, { code: 'invalid_input', message: summarise(error), retryable: false, fields: fieldErrors(error) });
  }
  log?.error('handler failed', { method, error: error instanceof Error ? error : String(error) });
  return failure(500, INTERNAL_ERROR);
}

function failure(status: number, error: CallError): CallOutcome {
  return { status, result: { ok: false, error } };
}

function summarise(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'invalid input';
  const where = first.path.length ? `${first.path.map(String).join('.')}: ` : '';
  return `${where}${first.message}${error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : ''}`;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  const parsed = z.record(z.string(), z.string()).safeParse(value);
  return parsed.success && Object.keys(parsed.data).length ? parsed.data : undefined;
}
