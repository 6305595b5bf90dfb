/**
 * pg-boss's database on PostgreSQL, following the primary through a failover the way the SQL
 * port does (sql/router/primary-list.ts): the hosts are `DATABASE_URL` then
 * `DATABASE_FAILOVER_URLS`; at start the first read-write host is used (a process started while
 * the first host is down starts on the standby that was promoted), and a statement failing with
 * a node error marks the host suspect and re-resolves the list in the background. While a
 * re-resolution runs, statements wait for it (up to `STATEMENT_WAIT_MS`) instead of failing
 * against a dead host, so a worker's polling resumes on the new primary without a restart.
 *
 * LISTEN runs on its own connection, reconnecting every second to whichever host is the primary
 * then (behind PgBouncer in transaction mode: to `directUrl`, a fixed host; none: polling only).
 * Notifications missed while it reconnects are covered by pg-boss's fetch after each reconnect
 * and by polling.
 */
import pg from 'pg';
import type { Db } from 'pg-boss';
import { isNodeFailure } from '../../sql/router/failover-errors.ts';
import { createPrimaryList, type PrimaryList } from '../../sql/router/primary-list.ts';

export type PrimaryDbOptions = Readonly<{
  /** The primary first, then the hosts that may become it. */
  urls: readonly string[];
  poolSize: number;
  applicationName: string;
  /** LISTEN target: the current primary (`follow`), a fixed host (behind a pooler), or none. */
  listen: 'follow' | { url: string } | 'none';
}>;

/** How long a statement waits for a re-resolution in progress before running anyway. */
const STATEMENT_WAIT_MS = 10_000;
const RECONNECT_EVERY_MS = 1000;

export type PrimaryDb = Readonly<{ db: Db; close(): Promise<void> }>;

/** The hosts are probed on first use (pg-boss's start), not here. */
export function createPrimaryDb(options: PrimaryDbOptions): PrimaryDb {
  let opening: Promise<PrimaryList> | undefined;
  const open = (): Promise<PrimaryList> => {
    opening ??= createPrimaryList(
      options.urls,
      { max: options.poolSize, application_name: options.applicationName, connectionTimeoutMillis: 10_000 },
      (client) => client.on('error', () => {}),
    );
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };

  async function executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    const primaries = await open();
    if (primaries.suspectReason() !== null) await primaries.waitForPrimary(Date.now() + STATEMENT_WAIT_MS);
    try {
      return await primaries.current().pool.query(text, values);
    } catch (err) {
      if (isNodeFailure(err)) primaries.suspect(`jobs: ${(err as Error).message}`);
      throw err;
    }
  }

  const { listen } = options;
  const db: Db = {
    executeSql,
    ...(listen === 'none'
      ? {}
      : {
          async listen(channel: string, onNotification: (payload: string) => void, onReconnect: () => void) {
            const primaries = await open();
            return listenFollowing(
              () => (listen === 'follow' ? primaries.current().url : listen.url),
              (err) => {
                if (listen === 'follow' && isNodeFailure(err))
                  primaries.suspect(`jobs listen: ${err.message}`);
              },
              `${options.applicationName}-listen`,
              channel,
              onNotification,
              onReconnect,
            );
          },
        }),
  };
  return {
    db,
    async close() {
      const primaries = await opening?.catch(() => undefined);
      await primaries?.close();
    },
  };
}

/**
 * A LISTEN connection to `target()` that reconnects (every second, to the target of that
 * moment) until closed; `onReconnect` after each LISTEN. The first connection must succeed.
 */
async function listenFollowing(
  target: () => string,
  onFailure: (err: Error) => void,
  applicationName: string,
  channel: string,
  onNotification: (payload: string) => void,
  onReconnect: () => void,
): Promise<{ close(): Promise<void> }> {
  let closed = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const retry = () => {
    if (!closed) timer = setTimeout(() => void connect().catch(retry), RECONNECT_EVERY_MS);
  };
  async function connect(): Promise<void> {
    const next = new pg.Client({
      connectionString: target(),
      application_name: applicationName,
      keepAlive: true,
    });
    next.on('error', (err) => onFailure(err));
    next.on('notification', (m) => {
      if (m.payload !== undefined) onNotification(m.payload);
    });
    next.on('end', () => {
      if (client !== next) return;
      client = undefined;
      retry();
    });
    try {
      await next.connect();
      await next.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
    } catch (err) {
      onFailure(err as Error);
      next.removeAllListeners('end');
      await next.end().catch(() => {});
      throw err;
    }
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
    onReconnect();
  }
  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      const last = client;
      client = undefined;
      await last?.end().catch(() => {});
    },
  };
}
