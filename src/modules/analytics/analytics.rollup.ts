/**
 * Rolls the clickstream up into daily tables. Each batch is aggregated in memory and written in
 * ONE analytics transaction together with the new stream position, so a crash or a concurrent
 * run can neither skip nor double-count a record (the position row is locked for the batch).
 * Category slugs and child → parent come from the catalog's public service. Once drained, the
 * stream is trimmed of records older than the retention: the daily tables are the record.
 */
import { sql } from 'kysely';
import type { Platform } from '../../platform/platform.ts';
import type { CategoryTree } from '../catalog/index.ts';
import type { AnalyticsDb } from './analytics.tables.ts';

export const CLICKSTREAM = 'clickstream';
const BATCH = 2000;
/** How long rolled-up clickstream records stay in the stream (CLICKSTREAM_RETENTION). */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;

export type RollupOptions = Readonly<{
  /** How old a record must be before it is rolled up (see StreamPort.read). */
  settleMs?: number;
  /** Once everything settled is rolled up, records older than this are trimmed from the stream. */
  retentionMs?: number;
  categories: () => Promise<CategoryTree>;
}>;

/** Normalises a search for counting: NFKC, lower case, single spaces, at most 100 characters. */
export function normaliseQuery(q: string): string {
  return q.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim().slice(0, 100);
}

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

export async function rollupClickstream(platform: Platform, options: RollupOptions): Promise<number> {
  const db = platform.sql.for<AnalyticsDb>('analytics').write;
  const tree = await options.categories();
  const idOf = new Map<string, string>();
  const parentOf = new Map<string, string>();
  for (const top of tree) {
    idOf.set(top.slug, top.id);
    idOf.set(top.id, top.id);
    for (const child of top.children) {
      idOf.set(child.slug, child.id);
      idOf.set(child.id, child.id);
      parentOf.set(child.id, top.id);
    }
  }
  const settleMs = options.settleMs ?? 2000;
  // Positions belong to the stream's store: the SQL store keeps the row it always had, another
  // store (STREAM_STORE=redis) its own, so switching stores starts on that store's records
  // instead of handing it a position it never gave out.
  const stateKey = platform.stream.store === 'sql' ? CLICKSTREAM : `${CLICKSTREAM}@${platform.stream.store}`;
  let total = 0;
  for (;;) {
    const state = await db
      .selectFrom('rollup_state')
      .select('position')
      .where('stream', '=', stateKey)
      .executeTakeFirst();
    // '0': the row exists but nothing was rolled up yet.
    const after = state && state.position !== '0' ? state.position : null;
    const records = await platform.stream.read(CLICKSTREAM, after, {
      limit: BATCH,
      settleMs,
    });
    if (records.length === 0) {
      // Drained: every record older than the settle delay is rolled up, so what is older than
      // the retention (never less than the settle delay) can go.
      const keepMs = Math.max(options.retentionMs ?? DEFAULT_RETENTION_MS, settleMs);
      await platform.stream.trim(CLICKSTREAM, new Date(Date.now() - keepMs));
      return total;
    }

    const searches = new Map<string, number>();
    const visitors = new Set<string>();
    const views = new Map<string, { day: string; productId: string; sellerId: string; views: number }>();
    for (const { at, data } of records) {
      const day = dayOf(at);
      const visitor = typeof data['visitor'] === 'string' ? data['visitor'] : undefined;
      if (data['t'] === 'search' && typeof data['q'] === 'string') {
        const q = normaliseQuery(data['q']);
        if (q) searches.set(`${day}\u0000${q}`, (searches.get(`${day}\u0000${q}`) ?? 0) + 1);
      } else if (data['t'] === 'list' && typeof data['category'] === 'string') {
        const id = idOf.get(data['category'].toLowerCase());
        if (id && visitor) visitors.add(`${day}\u0000${id}\u0000${visitor}`);
      } else if (data['t'] === 'view' && typeof data['productId'] === 'string') {
        const categoryId = String(data['categoryId'] ?? '');
        if (visitor && idOf.has(categoryId)) {
          visitors.add(`${day}\u0000${categoryId}\u0000${visitor}`);
          const parent = parentOf.get(categoryId);
          if (parent) visitors.add(`${day}\u0000${parent}\u0000${visitor}`);
        }
        const key = `${day}\u0000${data['productId']}`;
        const v = views.get(key);
        if (v) v.views++;
        else
          views.set(key, { day, productId: data['productId'], sellerId: String(data['sellerId']), views: 1 });
      }
    }

    const position = records.at(-1)!.position;
    const applied = await db.transaction().execute(async (trx) => {
      // Lock the position; if another run advanced it meanwhile, this batch is not ours.
      await trx
        .insertInto('rollup_state')
        .values({ stream: stateKey, position: '0', updated_at: new Date() })
        .onConflict((oc) => oc.column('stream').doNothing())
        .execute();
      const current = await trx
        .selectFrom('rollup_state')
        .select('position')
        .where('stream', '=', stateKey)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (current.position !== (state?.position ?? '0')) return false;
      if (searches.size > 0) {
        await trx
          .insertInto('search_daily')
          .values(
            [...searches].map(([k, n]) => {
              const [day, query] = k.split('\u0000') as [string, string];
              return { day, query, searches: n };
            }),
          )
          .onConflict((oc) =>
            oc
              .columns(['day', 'query'])
              .doUpdateSet({ searches: sql`search_daily.searches + excluded.searches` }),
          )
          .execute();
      }
      if (visitors.size > 0) {
        await trx
          .insertInto('category_visitors')
          .values(
            [...visitors].map((k) => {
              const [day, category_id, visitor] = k.split('\u0000') as [string, string, string];
              return { day, category_id, visitor };
            }),
          )
          .onConflict((oc) => oc.doNothing())
          .execute();
      }
      if (views.size > 0) {
        await trx
          .insertInto('product_views_daily')
          .values(
            [...views.values()].map((v) => ({
              day: v.day,
              product_id: v.productId,
              seller_id: v.sellerId,
              views: v.views,
            })),
          )
          .onConflict((oc) =>
            oc
              .columns(['day', 'product_id'])
              .doUpdateSet({ views: sql`product_views_daily.views + excluded.views` }),
          )
          .execute();
      }
      await trx
        .updateTable('rollup_state')
        .set({ position, updated_at: new Date() })
        .where('stream', '=', stateKey)
        .execute();
      return true;
    });
    if (!applied) continue;
    total += records.length;
  }
}
