import { createHash } from 'node:crypto';

/** sha256 of text or bytes, as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A short stable id from several parts (NUL-separated so parts cannot run together). */
export function stableId(...parts: Array<string | number>): string {
  return sha256Hex(parts.join('\0')).slice(0, 24);
}
