import { z } from 'zod';

/** Blocks are addressed by their SHA-256 as 64 lowercase hex characters. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

export const Sha256Hex = z.string().regex(SHA256_HEX, 'must be a SHA-256 as 64 lowercase hex characters');
