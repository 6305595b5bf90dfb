/**
 * Leaderboards on the kv port's sorted sets (Redis/DynamoDB-shaped, SQL table in solo): units
 * sold per product and per seller, all time and per ISO week (UTC) in which the order was
 * placed. `order.placed` adds, `order.cancelled` takes back from the week the order was placed
 * in (its `placedAt`), not the week of the cancellation. Applied once per event barring a crash
 * between the update and its record (handleExternalOnce), which could count one order twice:
 * acceptable for a ranking, and stated.
 */
import type { Consumer } from '../../platform/events/events.ts';
import { handleExternalOnce } from '../../platform/events/handle-once.ts';
import { createCatalogService } from '../catalog/index.ts';
import type { ModuleDeps } from '../module.ts';
import { createUsersService } from '../users/index.ts';

export type Period = 'week' | 'all';
type OrderEvent = {
  lines: { productId: string; sellerId: string; quantity: number }[];
  /** When the order was placed (ISO 8601); events written before it was added lack it. */
  placedAt?: string;
};

/** ISO 8601 week of a date (UTC), e.g. 2026-W48. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const setName = (what: 'products' | 'sellers', period: Period, at: Date): string =>
  period === 'all' ? `lb:${what}:all` : `lb:${what}:week:${isoWeek(at)}`;

export function leaderboardConsumer({ platform }: ModuleDeps): Consumer {
  const db = platform.sql.for('analytics').write;
  return {
    name: 'analytics.leaderboards',
    types: ['order.placed', 'order.cancelled'],
    async handle(event, { consumer }) {
      const sign = event.type === 'order.cancelled' ? -1 : 1;
      const { lines, placedAt } = event.payload as OrderEvent;
      // The week of the order, for a cancellation too (it takes back what that week counted).
      const at = new Date(placedAt ?? event.occurredAt);
      await handleExternalOnce(db, { consumer, eventId: event.id }, async () => {
        for (const l of lines) {
          for (const period of ['all', 'week'] as const) {
            await platform.kv.zincr(setName('products', period, at), l.productId, sign * l.quantity);
            await platform.kv.zincr(setName('sellers', period, at), l.sellerId, sign * l.quantity);
          }
        }
      });
    },
  };
}

export type ProductBoard = {
  period: string;
  items: { rank: number; productId: string; title: string | null; unitsSold: number }[];
};
export type SellerBoard = {
  period: string;
  items: { rank: number; sellerId: string; name: string | null; unitsSold: number }[];
};

/** Reads the boards: the top `limit` of a period, best first; entries cancelled out to 0 are left out. */
export type Leaderboards = Readonly<{
  products(period: Period, limit: number): Promise<ProductBoard>;
  sellers(period: Period, limit: number): Promise<SellerBoard>;
}>;

export function createLeaderboards({ config, platform }: ModuleDeps): Leaderboards {
  const catalog = createCatalogService(platform);
  const users = createUsersService({ config, platform });
  const periodLabel = (p: Period) => (p === 'all' ? 'all' : isoWeek(new Date()));
  // Ask for a few more: cancelled-out entries (score 0) are left out.
  const top = async (what: 'products' | 'sellers', period: Period, limit: number) =>
    (await platform.kv.ztop(setName(what, period, new Date()), limit + 20))
      .filter((e) => e.score > 0)
      .slice(0, limit);

  return {
    async products(period, limit) {
      const entries = await top('products', period, limit);
      const products = await catalog.getProducts(entries.map((e) => e.member));
      const titles = new Map(products.map((p) => [p.id, p.title]));
      return {
        period: periodLabel(period),
        items: entries.map((e, i) => ({
          rank: i + 1,
          productId: e.member,
          title: titles.get(e.member) ?? null,
          unitsSold: e.score,
        })),
      };
    },
    async sellers(period, limit) {
      const entries = await top('sellers', period, limit);
      const names = await Promise.all(entries.map((e) => users.getUser(e.member)));
      return {
        period: periodLabel(period),
        items: entries.map((e, i) => ({
          rank: i + 1,
          sellerId: e.member,
          name: names[i]?.name ?? null,
          unitsSold: e.score,
        })),
      };
    },
  };
}
