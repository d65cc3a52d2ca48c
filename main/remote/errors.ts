import { ApiErrorBody, FerryError } from '../../protocol';
import { isUntrustedCertificate } from './transport';

/** errno codes that mean "the server cannot be reached at all". */
const OFFLINE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL']);
/** Server codes worth retrying whatever status they came with. */
const RETRYABLE_CODES = new Set(['path_locked', 'rate_limited', 'timeout', 'unavailable', 'internal']);
const RETRYABLE_STATUSES = new Set([408, 423, 429]);

/** Retry-After as seconds: a number of seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** An HTTP error answer as a FerryError: code and message from the body, retryable from status and code. */
export function httpError(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer): FerryError {
  let code = `http_${status}`;
  let message = `HTTP ${status}`;
  let details: Record<string, unknown> | undefined;
  try {
    const raw = JSON.parse(body.toString('utf8')) as unknown;
    const parsed = ApiErrorBody.safeParse(raw);
    if (parsed.success) {
      code = parsed.data.code;
      message = parsed.data.message;
      const { code: _c, message: _m, ...rest } = raw as Record<string, unknown>;
      if (Object.keys(rest).length > 0) details = rest;
    }
  } catch {
    /* not JSON: keep the status-derived code */
  }
  const retryable = status >= 500 || RETRYABLE_STATUSES.has(status) || RETRYABLE_CODES.has(code);
  const retryAfterHeader = headers['retry-after'];
  const retryAfterSeconds = parseRetryAfter(Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader);
  return new FerryError(code, message, {
    status,
    retryable,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    ...(details ? { details } : {}),
  });
}

/**
 * Why a server's certificate is not trusted, and what sets it right, by its TLS code: the one
 * wording of the link's offline reason, the settings' refusal on the CA file and `ferry agent`'s
 * warning at start. An expired or not-yet-valid certificate, or one for another host, is no CA
 * file's fault ("give its CA" was wrong advice for them); a CA given that does not sign it is
 * said so (a new-user try read "give its CA" after giving one). `host`: the server's, as in its
 * URL (host:port).
 */
export function untrustedCertificateWords(code: string, host: string, caGiven: boolean): string {
  if (code === 'CERT_HAS_EXPIRED') return `the certificate of ${host} has expired (${code}), or this computer's clock is wrong: renew it on the server`;
  if (code === 'CERT_NOT_YET_VALID') return `the certificate of ${host} is not valid yet (${code}): check this computer's clock`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    // A certificate names hosts, not ports.
    const name = host.replace(/^(\[.*\]|[^:]*):\d+$/, '$1');
    return `the certificate at ${host} is not for ${name} (${code}): check the host name of the server's address (--server URL, Server URL in settings)`;
  }
  return caGiven
    ? `the CA file given does not sign the certificate of ${host} (${code}): give the CA file that signed it (--ca FILE, caFile in settings)`
    : `the certificate of ${host} is not signed by a CA this computer trusts (${code}): give the CA file that signed it with --ca FILE (caFile in settings)`;
}

/** How a transport failure came about: the server's host (host:port) and whether a private CA was given. */
export interface TransportContext {
  host?: string | undefined;
  caGiven?: boolean | undefined;
}

/** A failure below HTTP (connection, DNS, timeout, abort) as a FerryError; the original stays in `cause`. */
export function transportError(error: unknown, signal?: AbortSignal, context: TransportContext = {}): FerryError {
  if (error instanceof FerryError) return error;
  const err = error as { code?: string; name?: string; message?: string; host?: string };
  if (signal?.aborted || err.name === 'AbortError' || err.name === 'CancelError') {
    return new FerryError('aborted', 'Request aborted', { cause: error });
  }
  if (err.name === 'TimeoutError' || err.code === 'ETIMEDOUT') {
    return new FerryError('timeout', `Request timed out: ${err.message ?? ''}`.trim(), { retryable: true, cause: error });
  }
  if (isUntrustedCertificate(err.code)) {
    // Retryable: the server's certificate may be fixed there; the link shows it meanwhile.
    const words = untrustedCertificateWords(err.code as string, context.host ?? err.host ?? 'the sync server', context.caGiven === true);
    return new FerryError('tls_untrusted', words.charAt(0).toUpperCase() + words.slice(1), { retryable: true, cause: error });
  }
  if (err.code && OFFLINE_CODES.has(err.code)) {
    return new FerryError('offline', `Sync server unreachable (${err.code})`, { retryable: true, cause: error });
  }
  // An https:// address answered in plain HTTP: OpenSSL's words alone did not say so (a new-user try).
  if (err.code === 'EPROTO' && /wrong version number/.test(err.message ?? '')) {
    return new FerryError('network', 'The server at this address does not speak HTTPS (EPROTO): use an http:// address, or start the server with --tls-cert and --tls-key', { retryable: true, cause: error });
  }
  // Trimmed: OpenSSL's messages end with a newline, shown as a literal \n in Activity (a new-user try).
  return new FerryError('network', `Network error${err.code ? ` (${err.code})` : ''}: ${(err.message ?? String(error)).trim()}`, { retryable: true, cause: error });
}

/**
 * Plain HTTP sent to a server that speaks HTTPS is cut off (a reset, a hang-up, or bytes that are
 * no HTTP): the failure says what to try (a new-user try got only "socket hang up").
 */
export function withSchemeHint(failure: FerryError, protocol: string): FerryError {
  if (protocol !== 'http:' || failure.code !== 'network') return failure;
  const cause = failure.cause as { code?: string } | undefined;
  const cutOff = cause?.code === 'ECONNRESET' || cause?.code?.startsWith('HPE_') === true || /socket hang up/.test(failure.message);
  if (!cutOff) return failure;
  return new FerryError('network', `${failure.message} (if the server speaks HTTPS, use an https:// address)`, { retryable: true, cause: failure.cause });
}

export function malformedReply(what: string, cause?: unknown): FerryError {
  return new FerryError('malformed_reply', `Malformed reply from the sync server: ${what}`, { retryable: true, cause });
}
