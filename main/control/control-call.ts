import { z } from 'zod';
import { API_ERRORS, isApiErrorCode, isFerryError } from '../../protocol/errors';
import { fieldErrors, methods } from '../../preload/contract';
import type { CallError, CallResult, ContractHandlers, MethodName } from '../../preload/contract';
import type { Logger } from '../logging';

/**
 * One contract call, transport-free: validate the input with the method's schema, run the
 * handler, validate its output, and wrap everything in the CallResult envelope with the
 * HTTP status that fits. The IPC host can use it as well, so both transports answer alike.
 */
export interface CallOutcome {
  status: number;
  result: CallResult<unknown>;
}

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(methods, name);
}

export async function invokeContractMethod(
  handlers: ContractHandlers,
  method: MethodName,
  rawInput: unknown,
  log?: Logger,
): Promise<CallOutcome> {
  const spec = methods[method];
  const input = spec.input.safeParse(rawInput);
  if (!input.success) {
    const code = method === 'updateSettings' ? 'invalid_settings' : 'invalid_input';
    return failure(400, { code, message: summarise(input.error), retryable: false, fields: fieldErrors(input.error) });
  }
  let output: unknown;
  try {
    const handler = handlers[method] as (input: unknown) => Promise<unknown>;
    output = await handler(input.data);
  } catch (error) {
    return fromThrown(error, method, log);
  }
  const checked = spec.output.safeParse(output);
  if (!checked.success) {
    log?.error('handler answered outside the contract', { method, problem: summarise(checked.error) });
    return failure(500, { code: 'internal', message: `${method} produced an invalid answer`, retryable: false });
  }
  return { status: 200, result: { ok: true, value: checked.data } };
}

function fromThrown(error: unknown, method: MethodName, log?: Logger): CallOutcome {
  if (isFerryError(error)) {
    const fields = stringRecord(error.details?.fields);
    const status = error.status ?? (isApiErrorCode(error.code) ? API_ERRORS[error.code].status : fields ? 400 : 409);
    return failure(status, { code: error.code, message: error.message, retryable: error.retryable, ...(fields ? { fields } : {}) });
  }
  if (error instanceof z.ZodError) {
    return failure(400, { code: 'invalid_input', message: summarise(error), retryable: false, fields: fieldErrors(error) });
  }
  // Unknown failures keep their detail in the log, not in the answer.
  log?.error('handler failed', { method, error: error instanceof Error ? error : String(error) });
  return failure(500, { code: 'internal', message: `${method} failed unexpectedly`, retryable: true });
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
