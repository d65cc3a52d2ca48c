import { describe, expect, it } from 'vitest';
import { redact } from '../../main/logging';

describe('log redaction', () => {
  it('hides device tokens wherever they appear', () => {
    const token = 'fdt_' + 'Ab3-_x'.repeat(7);
    const out = redact(`request failed: ${token} at /v1/folders; header Bearer ${token}`);
    expect(out).not.toContain(token);
    expect(out).toContain('fdt_[redacted]');
  });

  it('hides pairing codes given by name or on a command line', () => {
    expect(redact('pairingCode=ABCD-EFGH-JKMN-PQRS')).not.toContain('ABCD');
    expect(redact('{"pairing_code":"ABCD-EFGH-JKMN-PQRS"}')).not.toContain('ABCD');
    expect(redact('argv: ferry agent --pair ABCD-EFGH-JKMN-PQRS --server http://x')).not.toContain('ABCD');
    expect(redact('argv: ferry agent --pair=ABCD-EFGH-JKMN-PQRS')).not.toContain('ABCD');
  });

  it('leaves error codes that merely name pairing codes readable', () => {
    expect(redact('pairing refused code=pairing_code_used')).toContain('pairing_code_used');
  });
});
