import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { FerryError } from '../../protocol/errors';

/**
 * How a client reaches a sync server (docs/sync-api.md, "Transport"): https, trusting the
 * system's CAs plus a private CA given with `--ca FILE`; plain http only to this computer
 * (loopback), or anywhere once `--allow-insecure-http` says the network is trusted. A token
 * sent over plain http to another host could be read by anyone on the way.
 */
export interface TransportSettings {
  /** PEM file of a private CA the server's certificate chains to. */
  caFile?: string | undefined;
  allowInsecureHttp?: boolean | undefined;
}

/** A URL's host name without the brackets an IPv6 address has there. */
const bareHost = (hostname: string): string => hostname.replace(/^\[(.*)\]$/, '$1');

/** True for `localhost`, 127.0.0.0/8 and ::1 (with or without the URL's brackets). */
export function isLoopbackHost(hostname: string): boolean {
  const host = bareHost(hostname).toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./.test(host);
  return false;
}

/** Why the URL may not be used as it is, in words for the settings field; null when it may. */
export function insecureUrlProblem(serverUrl: string, allowInsecureHttp: boolean | undefined): string | null {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return null; // the settings schema says what is wrong with it
  }
  if (url.protocol !== 'http:' || allowInsecureHttp === true || isLoopbackHost(url.hostname)) return null;
  return `plain http:// to ${url.hostname} (not this computer) would send the token unencrypted: use https://, or allow insecure http on a network you trust`;
}

/** Throws `insecure_http` (not retryable: only a setting changes it) for a URL the rules refuse. */
export function assertSecureUrl(serverUrl: string, allowInsecureHttp: boolean | undefined): void {
  const problem = insecureUrlProblem(serverUrl, allowInsecureHttp);
  if (problem !== null) throw new FerryError('insecure_http', `Refused ${serverUrl}: ${problem} (--allow-insecure-http)`, { details: { fields: { serverUrl: problem } } });
}

/** The private CA's PEM text; `ca_unreadable` when the file cannot be read or holds no certificate. */
export function readCaFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new FerryError('ca_unreadable', `Cannot read the CA file ${file}: ${(error as Error).message}`, { cause: error });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new FerryError('ca_unreadable', `The CA file ${file} holds no PEM certificate`);
  return text;
}

/** Problems of the transport settings by field (as folderProblems does for folders). */
export function transportProblems(settings: TransportSettings & { serverUrl: string }): Record<string, string> {
  const fields: Record<string, string> = {};
  const insecure = insecureUrlProblem(settings.serverUrl, settings.allowInsecureHttp);
  if (insecure !== null) fields.serverUrl = insecure;
  if (settings.caFile !== undefined) {
    try {
      readCaFile(settings.caFile);
    } catch (error) {
      fields.caFile = (error as Error).message;
    }
  }
  return fields;
}

/** What the client needs to connect: checked URL and the CA's text. */
export function clientTransport(serverUrl: string, settings: TransportSettings): { ca?: string; allowInsecureHttp: boolean } {
  assertSecureUrl(serverUrl, settings.allowInsecureHttp);
  return { ...(settings.caFile !== undefined ? { ca: readCaFile(settings.caFile) } : {}), allowInsecureHttp: settings.allowInsecureHttp === true };
}

/** TLS failures that mean "this certificate is not one we trust" rather than "the network failed". */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isUntrustedCertificate(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED_CERT_CODES.has(code);
}

/**
 * The TLS code of a certificate these settings do not trust at `serverUrl` (a CA given that did
 * not sign it, none given for a private one, another host's name), or null: trusted, not https,
 * or not reached within `timeoutMs` (the link says why once it runs). A settings change is
 * checked with it before it is saved (a new-user try saved a wrong CA file and went offline), and
 * `ferry agent` at start. `signal` ends the check at once (null), its socket closed.
 */
export function untrustedCertificate(serverUrl: string, settings: TransportSettings, timeoutMs = 5000, signal?: AbortSignal): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(serverUrl);
  } catch {
    return Promise.resolve(null);
  }
  if (url.protocol !== 'https:' || signal?.aborted) return Promise.resolve(null);
  const host = bareHost(url.hostname);
  // As the client trusts: the system's CAs, and the private one besides.
  const ca = settings.caFile !== undefined ? { ca: [...tls.rootCertificates, readCaFile(settings.caFile)] } : {};
  return new Promise((resolve) => {
    const socket = tls.connect({ host, port: Number(url.port || 443), ...(isIP(host) ? {} : { servername: host }), ...ca });
    const done = (code: string | null) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      socket.destroy();
      resolve(code);
    };
    const stop = () => done(null);
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    socket.once('secureConnect', () => done(null));
    socket.once('error', (error: NodeJS.ErrnoException) => done(isUntrustedCertificate(error.code) ? (error.code as string) : null));
  });
}
