/**
 * The error codes the Sync API answers with (body `{code, message}`), with the HTTP status
 * each one travels with and whether a client may retry it. One list for server and client.
 */
export const API_ERRORS = {
  invalid_request: { status: 400, retryable: false },
  invalid_path: { status: 400, retryable: false },
  invalid_token: { status: 400, retryable: false },
  unauthorized: { status: 401, retryable: false },
  // A device token that `ferry server revoke` signed out: pair the device again.
  device_revoked: { status: 401, retryable: false },
  // Pairing codes (`POST /v1/pair`): unknown, past its 10 minutes, or already traded.
  pairing_code_invalid: { status: 400, retryable: false },
  pairing_code_expired: { status: 410, retryable: false },
  pairing_code_used: { status: 410, retryable: false },
  not_found: { status: 404, retryable: false },
  // `GET …/history?path=P&revision=R`: R is no retained revision of P (never was, pruned, another path's).
  unknown_revision: { status: 404, retryable: false },
  method_not_allowed: { status: 405, retryable: false },
  conflict: { status: 409, retryable: false },
  sync_token_expired: { status: 410, retryable: false },
  payload_too_large: { status: 413, retryable: false },
  hash_mismatch: { status: 422, retryable: false },
  tracking_id_reused: { status: 422, retryable: false },
  path_locked: { status: 423, retryable: true },
  rate_limited: { status: 429, retryable: true },
  internal: { status: 500, retryable: true },
  unavailable: { status: 503, retryable: true },
  /** The server's disk is full: nothing of the request was kept; try again after Retry-After. */
  insufficient_storage: { status: 507, retryable: true },
  timeout: { status: 504, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ApiErrorCode = keyof typeof API_ERRORS;
export const API_ERROR_CODES = Object.keys(API_ERRORS) as ApiErrorCode[];

/** Codes that only appear in per-operation results of a batch (never as an HTTP error). */
export const OPERATION_ERROR_CODES = [
  'conflict',
  'missing_blocks',
  'not_found',
  'invalid_request',
  'aborted',
  // restore operations (docs/sync-api.md, "History and restore")
  'unknown_revision',
  'blocks_collected',
  'not_deleted',
] as const;
export type OperationErrorCode = (typeof OPERATION_ERROR_CODES)[number];

/** Codes the client raises on its own side (never sent by the server). */
export const CLIENT_ERROR_CODES = ['offline', 'network', 'malformed_reply', 'hash_mismatch', 'aborted'] as const;

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return Object.prototype.hasOwnProperty.call(API_ERRORS, code);
}
