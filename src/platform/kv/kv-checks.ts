/**
 * Argument checks every kv adapter applies the same way, before anything is written, so that
 * all adapters refuse the same input with the same error (RangeError or TypeError).
 */
import { type Json, KV_LIMITS } from './kv.ts';

/** Checks a key, set or member name; returns it. */
export function checkName(what: string, name: string): string {
  const bytes = typeof name === 'string' ? Buffer.byteLength(name) : 0;
  if (bytes < 1 || bytes > KV_LIMITS.nameMaxBytes || name.includes('\u0000')) {
    throw new RangeError(`kv ${what} must be 1 to ${KV_LIMITS.nameMaxBytes} bytes without NUL`);
  }
  return name;
}

/** Serialises a value for storage, enforcing the JSON, NUL and size rules. */
export function encodeValue(value: Json): string {
  let nul = false;
  const json = JSON.stringify(value, (k, v) => {
    if (k.includes('\u0000') || (typeof v === 'string' && v.includes('\u0000'))) nul = true;
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new RangeError('kv values must be finite numbers');
    return v;
  });
  if (json === undefined) throw new TypeError('kv values must be JSON (not undefined or a function)');
  if (nul) throw new RangeError('kv values may not contain U+0000');
  if (Buffer.byteLength(json) > KV_LIMITS.valueMaxBytes) {
    throw new RangeError(`kv values must be at most ${KV_LIMITS.valueMaxBytes} bytes as JSON`);
  }
  return json;
}

export function checkVersion(version: number | undefined): void {
  if (version !== undefined && !(Number.isSafeInteger(version) && version >= 0)) {
    throw new RangeError('kv ifVersion must be a whole number ≥ 0');
  }
}

export function checkTtl(ttlMs: number | undefined): void {
  if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0)) {
    throw new RangeError('kv ttlMs must be a whole number of milliseconds > 0');
  }
}

export function checkScore(what: string, score: number): void {
  if (typeof score !== 'number' || !Number.isFinite(score)) throw new RangeError(`kv ${what} must be finite`);
}
