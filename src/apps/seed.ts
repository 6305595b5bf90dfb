/**
 * Demo data: accounts through the users module, products through the catalog module and orders
 * through the orders module, each by its public surface: the service, or the module's seeder for
 * bulk writes (createCatalogSeeder, createOrdersSeeder). No table of theirs is touched here.
 * Idempotent and resumable: accounts are matched by email; products and orders are added only up
 * to the requested totals; each order has a deterministic key (`seed-<index>`) under its buyer,
 * so a rerun or a run after an interruption reaches the same totals without duplicates.
 *
 * Speed: every phase works in batches (default 1,000 rows) with multi-row statements, and the
 * demo password is hashed once for all accounts (they share it).
 */

import type { Config } from '../config/config.ts';
import { createCatalogSeeder, createCatalogService, type ProductSeed } from '../modules/catalog/index.ts';
import { createMediaService } from '../modules/media/index.ts';
import { createOrdersSeeder, type OrderStatus, type SeedOrder } from '../modules/orders/index.ts';
import { createUsersService } from '../modules/users/index.ts';
import type { Platform } from '../platform/platform.ts';
import { uuidv7 } from '../shared/ids.ts';
import { DEMO_PASSWORD, DEMO_SEED, demoProduct, hashString, prng, type SeedCategory } from './seed-data.ts';

export type SeedPhase = 'accounts' | 'products' | 'orders';

export type SeedOptions = Readonly<{
  products: number;
  sellers: number;
  buyers: number;
  /** Total orders of the demo buyers wanted; default 0: none added. */
  orders?: number;
  /** Generated photos for this many of the newest products this run adds (processed by the worker); default 0. */
  photos?: number;
  /** Rows per batch (one transaction each per domain); default 1,000. */
  batchSize?: number;
  /** Called when a phase starts (done 0) and after each batch, with the rows done in this run and the rows to do. */
  onProgress?: (phase: SeedPhase, done: number, total: number) => void;
  /** Checked between batches: once aborted, the seed stops after the batch in flight (SeedInterrupted). */
  signal?: AbortSignal;
}>;

/** Rows written in one phase of this run and the time it took. */
export type PhaseReport = Readonly<{ rows: number; seconds: number }>;

export type SeedReport = Readonly<{
  sellers: number;
  buyers: number;
  productsAdded: number;
  productsTotal: number;
  ordersAdded: number;
  /** Orders the demo buyers (of this run's --buyers) have now. */
  ordersTotal: number;
  photosAdded: number;
  phases: Readonly<Record<SeedPhase, PhaseReport>>;
}>;

/** The seed stopped between two batches because it was asked to; a rerun finishes it. */
export class SeedInterrupted extends Error {}

const SHOP_NAMES = [
  'Ada’s Ceramics',
  'Northwind Goods',
  'Juniper & Pine',
  'Little Workshop',
  'Harbor Supply',
  'Fernwood Studio',
  'Copper Kettle',
  'Atlas Outfitters',
  'Paper Moon',
  'Blue Heron Crafts',
];
const BATCH = 1000;
/** Batches in flight at once (each its own transactions): one is prepared while the database writes the other. */
const PARALLEL_BATCHES = 2;
const DAY = 86_400_000;
const SPAN_MS = 90 * DAY;
/** Products an order may choose from: the oldest in-stock ones up to this many (memory stays small at any catalog size). */
const ORDER_POOL_MAX = 250_000;

export async function seedDemo(
  platform: Platform,
  config: Pick<Config, 'loginMaxFailuresPerAccount' | 'loginFailureWindowMs'>,
  options: SeedOptions,
): Promise<SeedReport> {
  const users = createUsersService({ config, platform });
  const catalog = createCatalogService(platform);
  const catalogSeeder = createCatalogSeeder(platform);
  const orders = createOrdersSeeder(platform, { stock: catalogSeeder });
  const batchSize = options.batchSize ?? BATCH;
  const progress = options.onProgress ?? (() => {});
  const checkpoint = () => {
    if (options.signal?.aborted) throw new SeedInterrupted('interrupted between two batches');
  };
  const clock = () => performance.now();

  // Accounts.
  let t = clock();
  const accounts = [
    { email: 'admin@bazaar.test', name: 'Bazaar Admin', role: 'admin' as const },
    ...Array.from({ length: options.sellers }, (_, i) => ({
      email: `seller${i + 1}@bazaar.test`,
      name: SHOP_NAMES[i % SHOP_NAMES.length]! + (i >= SHOP_NAMES.length ? ` ${i + 1}` : ''),
      role: 'seller' as const,
    })),
    ...Array.from({ length: options.buyers }, (_, i) => ({
      email: `buyer${i + 1}@bazaar.test`,
      name: `Demo Buyer ${i + 1}`,
      role: 'buyer' as const,
    })),
  ];
  progress('accounts', 0, accounts.length);
  const ids = await users.importAccounts(accounts, DEMO_PASSWORD, (done) =>
    progress('accounts', done, accounts.length),
  );
  const sellerIds = accounts.filter((a) => a.role === 'seller').map((a) => ids.get(a.email)!);
  const buyerIds = accounts.filter((a) => a.role === 'buyer').map((a) => ids.get(a.email)!);
  const accountsPhase = { rows: accounts.length, seconds: (clock() - t) / 1000 };

  // Products.
  t = clock();
  const existing = await catalogSeeder.countProducts();
  const toAdd = Math.max(0, options.products - existing);
  if (toAdd > 0 && sellerIds.length === 0) throw new Error('products need at least one seller (--sellers 1)');
  const leaves: SeedCategory[] = (await catalog.listCategories()).flatMap((top) =>
    top.children.length > 0
      ? top.children.map((c) => ({ id: c.id, name: c.name, parentName: top.name }))
      : [{ id: top.id, name: top.name }],
  );
  // Seeded by how many exist, so a resumed run continues the sequence instead of repeating it.
  const random = prng(0xba2aa2 + existing);
  const now = Date.now();
  const productBatch = (from: number, n: number): ProductSeed[] =>
    Array.from({ length: n }, (_, i) => {
      const k = from + i;
      // Older products first, so "newest" lists the last ones seeded; spread over 90 days.
      const createdAt = new Date(
        now - SPAN_MS + Math.floor((SPAN_MS * (k + 1)) / Math.max(options.products, 1)),
      );
      return {
        ...demoProduct(random, leaves[k % leaves.length]!),
        id: uuidv7(createdAt.getTime()),
        sellerId: sellerIds[k % sellerIds.length]!,
        currency: 'USD',
        status: 'published' as const,
        createdAt,
      };
    });
  let added = 0;
  let scheduled = 0;
  // The newest products of this run: the only ones that may get a generated photo.
  const photos = options.photos ?? 0;
  let newest: DemoProduct[] = [];
  progress('products', 0, toAdd);
  await inFlight(
    () => {
      if (scheduled >= toAdd) return undefined;
      checkpoint();
      const n = Math.min(batchSize, toAdd - scheduled);
      const rows = productBatch(existing + scheduled, n);
      scheduled += n;
      if (photos > 0) {
        newest = [...newest, ...rows.map((r) => ({ id: r.id!, sellerId: r.sellerId, title: r.title }))].slice(
          -photos,
        );
      }
      return catalogSeeder.insertProducts(rows);
    },
    (n) => {
      added += n;
      progress('products', added, toAdd);
    },
  );
  if (added > 0) await catalogSeeder.analyze();
  const productsPhase = { rows: added, seconds: (clock() - t) / 1000 };

  // Orders.
  t = clock();
  const ordersWanted = options.orders ?? 0;
  const ordersBefore = await orders.countOrders(buyerIds);
  const ordersToAdd = Math.max(0, ordersWanted - ordersBefore);
  let ordersAdded = 0;
  if (ordersToAdd > 0) {
    if (buyerIds.length === 0) throw new Error('orders need at least one buyer (--buyers 1)');
    if (sellerIds.length === 0)
      throw new Error('orders buy demo sellers’ products: they need --sellers 1 or more');
    const pool = await orderPool(platform, sellerIds);
    progress('orders', 0, ordersToAdd);
    // Keys continue after the orders that exist, less the batches (of this size or the default)
    // that may have been in flight when a run stopped: a resumed run meets the keys it left
    // first (finished ones count as existing and are passed over).
    let index = Math.max(0, ordersBefore - PARALLEL_BATCHES * Math.max(batchSize, BATCH));
    let scheduled = 0;
    let idle = 0;
    await inFlight(
      () => {
        if (ordersAdded + scheduled >= ordersToAdd) return undefined;
        checkpoint();
        if (pool.size() === 0) {
          throw new Error(
            `every product is sold out after ${ordersAdded} of ${ordersToAdd} orders; add products (--products) and run again`,
          );
        }
        const n = Math.min(batchSize, ordersToAdd - ordersAdded - scheduled);
        const batch = Array.from({ length: n }, (_, i) =>
          demoOrder(index + i, ordersWanted, now, buyerIds, pool.pick),
        );
        index += n;
        scheduled += n;
        return orders.seedOrders(batch).then((result) => ({ n, result }));
      },
      ({ n, result }) => {
        scheduled -= n;
        pool.remove(result.soldOut);
        ordersAdded += result.created;
        idle = result.created + result.existing === 0 ? idle + 1 : 0;
        if (idle === 3) {
          throw new Error(
            `three batches in a row placed no order (products sold out or unpublished) after ${ordersAdded} of ${ordersToAdd}; add products (--products) and run again`,
          );
        }
        progress('orders', ordersAdded, ordersToAdd);
      },
    );
  }
  if (ordersAdded > 0) await orders.analyze();
  const ordersPhase = { rows: ordersAdded, seconds: (clock() - t) / 1000 };

  const photosAdded = await seedPhotos(platform, newest.reverse());
  return {
    sellers: sellerIds.length,
    buyers: buyerIds.length,
    productsAdded: added,
    productsTotal: existing + added,
    ordersAdded,
    ordersTotal: ordersBefore + ordersAdded,
    photosAdded,
    phases: { accounts: accountsPhase, products: productsPhase, orders: ordersPhase },
  };
}

/**
 * The start-up seeding (`SEED`): the demo data, only into an empty catalog, so a catalog anyone
 * has used is never added to nor touched (a seller's own products get no demo photo). Undefined
 * when the catalog had products.
 */
export async function seedOnStart(
  platform: Platform,
  config: Pick<Config, 'loginMaxFailuresPerAccount' | 'loginFailureWindowMs'>,
  options: SeedOptions = DEMO_SEED,
): Promise<SeedReport | undefined> {
  if ((await createCatalogSeeder(platform).countProducts()) > 0) return undefined;
  return seedDemo(platform, config, options);
}

/**
 * Runs the tasks `next` returns (undefined: none now) with up to PARALLEL_BATCHES in flight, and
 * hands their results to `done` in the order they were started: the next batch is prepared and
 * sent while the database works on the one before. On a failure the others settle first.
 */
async function inFlight<T>(next: () => Promise<T> | undefined, done: (value: T) => void): Promise<void> {
  const running: Promise<T>[] = [];
  try {
    for (;;) {
      // Let the event loop turn: PGlite answers through promises alone, and a Ctrl-C (a signal
      // handler) only runs when the loop reaches its I/O phase.
      await new Promise((resolve) => setImmediate(resolve));
      while (running.length < PARALLEL_BATCHES) {
        const task = next();
        if (!task) break;
        running.push(task);
      }
      const first = running.shift();
      if (!first) return;
      done(await first);
    }
  } catch (err) {
    await Promise.allSettled(running);
    throw err;
  }
}

type Pool = { size(): number; pick(random: () => number): string; remove(ids: readonly string[]): void };

/**
 * The products orders choose from: the demo sellers' only (demo orders take no stock from, and
 * add no sale to, anyone else's products), in a fixed pseudo-random order of popularity: picks
 * favour the front (the top 1% of products get about an eighth of the lines), so some products
 * sell out, as in a real shop. Sold-out products are removed as the catalog reports them.
 */
async function orderPool(platform: Platform, sellerIds: readonly string[]): Promise<Pool> {
  const stock = createCatalogSeeder(platform);
  let ids: string[] = [];
  for (let after: string | undefined; ids.length < ORDER_POOL_MAX; ) {
    const page = await stock.listInStockProductIds(
      after,
      Math.min(10_000, ORDER_POOL_MAX - ids.length),
      sellerIds,
    );
    ids.push(...page);
    if (page.length < 10_000) break;
    after = page.at(-1);
  }
  const rank = new Map(ids.map((id) => [id, hashString(id)]));
  ids.sort((a, b) => rank.get(a)! - rank.get(b)! || (a < b ? -1 : 1));
  return {
    size: () => ids.length,
    pick: (random) => ids[Math.floor(random() ** 2.2 * ids.length)]!,
    remove(gone) {
      if (gone.length === 0) return;
      const out = new Set(gone);
      ids = ids.filter((id) => !out.has(id));
    },
  };
}

/**
 * Order number `k`: its buyer, lines and fate depend only on `k` (and on the pool), its time on
 * `k` of `total`: spread over the last 90 days, oldest first. Older orders have mostly been
 * delivered, recent ones are still placed or shipped; about 7% were cancelled.
 */
function demoOrder(
  k: number,
  total: number,
  now: number,
  buyers: readonly string[],
  pick: (random: () => number) => string,
): SeedOrder {
  const random = prng(0x0bde5 ^ Math.imul(k + 1, 0x9e3779b1));
  const buyerId = buyers[Math.floor(random() * buyers.length)]!;
  const lineCount = weighted(random, [55, 28, 12, 5]) + 1;
  const products = new Set<string>();
  for (let tries = 0; products.size < lineCount && tries < lineCount * 4; tries++) products.add(pick(random));
  const lines = [...products].map((productId) => ({
    productId,
    quantity: weighted(random, [75, 18, 7]) + 1,
  }));
  const placedAt = now - SPAN_MS + Math.floor((SPAN_MS * (k + 1)) / Math.max(total, k + 1)) - 60_000;
  const age = now - placedAt;
  let status: OrderStatus;
  const roll = random();
  if (random() < 0.07) status = 'cancelled';
  else if (age < 3 * DAY) status = roll < 0.7 ? 'placed' : 'shipped';
  else if (age < 8 * DAY) status = roll < 0.6 ? 'shipped' : 'delivered';
  else status = roll < 0.9 ? 'delivered' : roll < 0.95 ? 'shipped' : 'placed';
  // Steps a day or two apart, and never later than now.
  const stepMs = Math.min(DAY * (1 + random()), Math.floor(age / 3));
  return { key: `seed-${k}`, buyerId, lines, placedAt: new Date(placedAt), status, stepMs };
}

/** An index drawn with the given relative weights. */
function weighted(random: () => number, weights: readonly number[]): number {
  let r = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, w] of weights.entries()) {
    r -= w;
    if (r < 0) return i;
  }
  return weights.length - 1;
}

type DemoProduct = Readonly<{ id: string; sellerId: string; title: string }>;

const PALETTE = ['#264653', '#2a9d8f', '#e9c46a', '#f4a261', '#e76f51', '#6d597a', '#355070', '#b56576'];

/**
 * One generated photo for each of the given products (ones this run created, so never a
 * seller's own): a solid colour and the product's title drawn by sharp (no network), stored as
 * the upload and signalled like a browser upload, so the worker's image job processes it.
 * Returns how many.
 */
async function seedPhotos(platform: Platform, products: readonly DemoProduct[]): Promise<number> {
  const media = createMediaService({ platform });
  let added = 0;
  for (const [i, p] of products.entries()) {
    const owner = { userId: p.sellerId, role: 'seller' as const };
    const bytes = await demoPhoto(p.title, PALETTE[i % PALETTE.length]!);
    const { photoId } = await media.requestUpload(owner, p.id, {
      contentType: 'image/jpeg',
      size: bytes.length,
    });
    await platform.objects.put(`uploads/${photoId}`, bytes, { contentType: 'image/jpeg' });
    await media.objectCreated(`uploads/${photoId}`);
    added++;
  }
  return added;
}

async function demoPhoto(title: string, colour: string): Promise<Buffer> {
  const text = title.replace(/[<>&"']/g, ' ').slice(0, 40);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="900">
    <circle cx="600" cy="380" r="220" fill="#ffffff" fill-opacity="0.25"/>
    <text x="600" y="760" font-family="sans-serif" font-size="64" fill="#ffffff" text-anchor="middle">${text}</text>
  </svg>`;
  const { default: sharp } = await import('sharp');
  return sharp({ create: { width: 1200, height: 900, channels: 3, background: colour } })
    .composite([{ input: Buffer.from(svg) }])
    .jpeg({ quality: 85 })
    .toBuffer();
}

export { DEMO_SEED } from './seed-data.ts';
