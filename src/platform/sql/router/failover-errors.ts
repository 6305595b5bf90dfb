/**
 * Which database errors mean "this node cannot serve you now" rather than "your query is wrong":
 * the node is down, restarting, shutting down, or no longer (or not yet) the primary. Reads that
 * fail this way are retried on another node; writes become AppError UNAVAILABLE (503 with
 * Retry-After), never a 500 and never a hang.
 */
const NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '25006', // read_only_sql_transaction: we reached a standby or a demoted primary
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, or shutting down)
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08004', // server rejected the connection
  '53300', // too_many_connections
]);

const NODE_MESSAGES = [
  /Connection terminated/i,
  /connection timeout/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Client was closed and is not queryable/i,
  /terminating connection/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /is not currently accepting connections/i, // 55000 from ALTER DATABASE … ALLOW_CONNECTIONS false
  // PgBouncer (its errors carry 08P01, which also means a real protocol violation).
  /pgbouncer cannot connect to server/i,
  /server login has been failing/i,
  /server conn crashed/i,
  /query_wait_timeout/i,
  /database shutting down|pgbouncer is shutting down/i,
];

/** True when `err` says the node is unusable, not that the statement is wrong. */
export function isNodeFailure(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NODE_CODES.has(code)) return true;
    if (typeof message === 'string' && NODE_MESSAGES.some((re) => re.test(message))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
