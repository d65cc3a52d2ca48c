import { z } from 'zod';

/**
 * Every error Ferry raises or sends carries a stable code and whether retrying can help.
 * The wire shape (`ApiErrorBody`) is what the Sync API and the control API answer with.
 */
export const ApiErrorBody = z.object({
  code: z.string().min(1),
  message: z.string(),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

export interface FerryErrorOptions {
  retryable?: boolean;
  /** HTTP status that fits the error, when it crosses HTTP. */
  status?: number;
  /** Seconds the peer asked us to wait (Retry-After). */
  retryAfterSeconds?: number;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class FerryError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  toBody(): ApiErrorBody {
    return { code: this.code, message: this.message };
  }
}

export function isFerryError(value: unknown): value is FerryError {
  return value instanceof FerryError;
}

/** Wraps anything thrown into a FerryError, keeping an existing one as it is. */
export function asFerryError(value: unknown, fallbackCode = 'internal'): FerryError {
  if (value instanceof FerryError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new FerryError(fallbackCode, message, { cause: value });
}

/** errno and SQLite codes that say a disk (or quota) is full. */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/**
 * The code that says a disk is full (ENOSPC, EDQUOT, SQLITE_FULL), from the error or any
 * error it was caused by; null when it says something else.
 */
export function storageFullCode(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && STORAGE_FULL_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export { API_ERRORS, API_ERROR_CODES, OPERATION_ERROR_CODES, CLIENT_ERROR_CODES, isApiErrorCode } from './error-codes';
export type { ApiErrorCode, OperationErrorCode } from './error-codes';
