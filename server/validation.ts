import type { z } from 'zod';
import { FERRY_CODE_PARAM, FerryError } from '../protocol';

/** Parses input with a protocol schema; failures become 400 with the first issues named. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw inputError(result.error, what);
}

export function inputError(error: z.ZodError, what: string): FerryError {
  const issues = error.issues;
  const ferryCode = (i: z.core.$ZodIssue): string | undefined => {
    const params = (i as { params?: Record<string, unknown> }).params;
    return typeof params?.[FERRY_CODE_PARAM] === 'string' ? params[FERRY_CODE_PARAM] : undefined;
  };
  const pathCode = issues.find((i) => ferryCode(i) !== undefined);
  const code = (pathCode && ferryCode(pathCode)) ?? 'invalid_request';
  const first = (pathCode ? [pathCode] : issues).slice(0, 3).map((i) => {
    const where = i.path.length ? i.path.join('.') + ': ' : '';
    return where + i.message;
  });
  const more = issues.length > first.length ? ` (and ${issues.length - first.length} more)` : '';
  return new FerryError(code, `Invalid ${what}: ${first.join('; ')}${more}`, { status: 400 });
}
