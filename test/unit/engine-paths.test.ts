import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { onDiskName, resolveDiskPath, toKey } from '../../main/engine/paths';
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
});
