/**
 * PostgreSQL WAL positions (`pg_lsn`, written `16/B374D848`) as bigints, so they compare and
 * subtract exactly. An LSN is a byte offset in the write-ahead log: a replica whose replay
 * position is at or past a commit's LSN has applied that commit.
 */
const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** The LSN as a 64-bit offset; undefined when `text` is not an LSN. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  if (!text) return undefined;
  const m = LSN.exec(text.trim());
  if (!m) return undefined;
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** The `16/B374D848` form of an offset. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
