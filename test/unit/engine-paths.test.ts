import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { onDiskName, resolveDiskPath, toKey, unsyncableReason } from '../../main/engine/paths';
import { checkSyncPath } from '../../protocol/paths';
import { tempDirsEachTest } from '../helpers/local-temp';

describe('index keys and on-disk names', () => {
  const temp = tempDirsEachTest('ferry-paths-');

  it('keys are NFC whatever the disk wrote', () => {
    expect(toKey('Ärger/café.txt'.normalize('NFD'))).toBe('Ärger/café.txt'.normalize('NFC'));
  });

  it('finds the NFD spelling on disk of an NFC key, component by component', () => {
    const root = temp();
    const dirNfd = 'Ärger'.normalize('NFD');
    const fileNfd = 'café.txt'.normalize('NFD');
    mkdirSync(path.join(root, dirNfd));
    writeFileSync(path.join(root, dirNfd, fileNfd), 'x');
    const key = toKey(`${dirNfd}/${fileNfd}`);
    expect(key).not.toBe(`${dirNfd}/${fileNfd}`);
    expect(resolveDiskPath(root, key)).toBe(path.join(root, dirNfd, fileNfd));
    expect(onDiskName(root, 'Ärger'.normalize('NFC'))).toBe(dirNfd);
  });

  it('keeps the plain name when it exists or when nothing matches', () => {
    const root = temp();
    writeFileSync(path.join(root, 'plain.txt'), 'x');
    expect(resolveDiskPath(root, 'plain.txt')).toBe(path.join(root, 'plain.txt'));
    expect(resolveDiskPath(root, 'missing/naïve.txt')).toBe(path.join(root, 'missing', 'naïve.txt'));
  });

  it('finds another spelling even of an ASCII key (the Kelvin sign is K in NFC)', () => {
    const root = temp();
    const kelvin = '\u212Aelvin.txt';
    writeFileSync(path.join(root, kelvin), 'x');
    expect(toKey(kelvin)).toBe('Kelvin.txt');
    expect(resolveDiskPath(root, 'Kelvin.txt')).toBe(path.join(root, kelvin));
  });

  // The scan's quick look must agree with the wire's own check on every name a disk can hold.
  it('tells a name the wire refuses exactly as the wire does, quick look or not', () => {
    const pieces = ['a', 'Z', 'é', 'e\u0301', '😀', '\u0007', '\u001b', '\u0085', '\u202e', '\\', ':', 'C:', '\uFFFD', ' ', '.', '-', 'n'.repeat(90), 'ü'.repeat(130)];
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 5000; i++) {
      const segments = Array.from({ length: 1 + Math.floor(next() * 3) }, () => Array.from({ length: 1 + Math.floor(next() * 4) }, () => pieces[Math.floor(next() * pieces.length)]).join(''));
      const key = segments.filter((n) => n !== '.' && n !== '..').join('/');
      if (key === '' || key.split('/').some((n) => n === '' || n === '.' || n === '..')) continue;
      expect(unsyncableReason(key) === null, JSON.stringify(key)).toBe(checkSyncPath(key).ok);
    }
    expect(unsyncableReason('C:notes.txt')).toBe("its name starts with a drive prefix");
    expect(unsyncableReason('caf\uFFFD.txt', true)).toBe('its name is not valid UTF-8');
  });
});
