import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** PEM files made with the openssl CLI: a CA, and server certificates it signed. */
export interface TestCertificates {
  /** The private CA that signed the server certificates below. */
  ca: string;
  /** For 127.0.0.1 and localhost, valid now, and its key (every certificate here has this key). */
  cert: string;
  key: string;
  /** A CA that signed nothing here: trusting it must not make the server's certificate trusted. */
  otherCa: string;
  /** Signed by `ca` for 127.0.0.1 and localhost: valid in January 2000 only. */
  expired: string;
  /** Signed by `ca` for 127.0.0.1 and localhost: valid from 2099 on. */
  notYetValid: string;
  /** Signed by `ca`, valid now, for other.example only. */
  otherHost: string;
}

const LOCAL_NAMES = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n';

/** A private CA and the server certificates of the TLS tests, in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe', cwd: dir });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Ferry test CA', '-keyout', file('ca.key'), '-out', file('ca.pem'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', file('server.key'), '-out', file('server.csr'));
  writeFileSync(file('san.ext'), LOCAL_NAMES);
  writeFileSync(file('other-host.ext'), 'subjectAltName=DNS:other.example\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('san.ext'), '-out', file('server.pem'));
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('other-host.ext'), '-out', file('other-host.pem'));
  // Validity dates of one's choosing take `openssl ca` (`x509 -req` has only -days from now).
  writeFileSync(file('index.txt'), '');
  writeFileSync(file('serial'), '1000\n');
  writeFileSync(
    file('ca.cnf'),
    ['[ca]', 'default_ca = test', '[test]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256', 'policy = any', 'unique_subject = no', '[any]', 'commonName = supplied', ''].join('\n'),
  );
  const dated = (out: string, start: string, end: string) =>
    openssl('ca', '-batch', '-notext', '-config', file('ca.cnf'), '-cert', file('ca.pem'), '-keyfile', file('ca.key'), '-in', file('server.csr'), '-extfile', file('san.ext'), '-startdate', start, '-enddate', end, '-out', file(out));
  dated('expired.pem', '20000101000000Z', '20000201000000Z');
  dated('not-yet-valid.pem', '20990101000000Z', '20990201000000Z');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Some other CA', '-keyout', file('other.key'), '-out', file('other.pem'));
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key'), otherCa: file('other.pem'), expired: file('expired.pem'), notYetValid: file('not-yet-valid.pem'), otherHost: file('other-host.pem') };
}
