/**
 * Demo data: accounts through the users module and products through the catalog module, each by
 * its public service (no table of theirs is touched here). Idempotent: accounts are matched by
 * email, and products are added only up to the requested total, so a rerun or a resumed run
 * after a crash reaches the same counts without duplicates.
 */
import type { Config } from '../config/config.ts';
import { createCatalogService, type ProductSeed } from '../modules/catalog/index.ts';
import { createUsersService } from '../modules/users/index.ts';
import type { Platform } from '../platform/platform.ts';
import { uuidv7 } from '../shared/ids.ts';
import { DEMO_PASSWORD, demoProduct, prng, type SeedCategory } from './seed-data.ts';

export type SeedOptions = Readonly<{
  products: number;
  sellers: number;
  buyers: number;
  /** Called after each batch with products inserted so far in this run and the number to insert. */
  onProgress?: (done: number, total: number) => void;
}>;

export type SeedReport = Readonly<{
  sellers: number;
  buyers: number;
  productsAdded: number;
  productsTotal: number;
}>;

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

export async function seedDemo(
  platform: Platform,
  config: Pick<Config, 'loginMaxFailuresPerAccount' | 'loginFailureWindowMs'>,
  options: SeedOptions,
): Promise<SeedReport> {
  const users = createUsersService({ config, platform });
  const catalog = createCatalogService(platform);

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
  const ids = await users.importAccounts(accounts, DEMO_PASSWORD);
  const sellerIds = accounts.filter((a) => a.role === 'seller').map((a) => ids.get(a.email)!);

  const existing = await catalog.countProducts();
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
  const spanMs = 90 * 86_400_000;
  let added = 0;
  options.onProgress?.(0, toAdd);
  while (added < toAdd) {
    const n = Math.min(BATCH, toAdd - added);
    const rows: ProductSeed[] = [];
    for (let i = 0; i < n; i++) {
      const k = existing + added + i;
      // Older products first, so "newest" lists the last ones seeded; spread over 90 days.
      const createdAt = new Date(
        now - spanMs + Math.floor((spanMs * (k + 1)) / Math.max(options.products, 1)),
      );
      const p = demoProduct(random, leaves[k % leaves.length]!);
      rows.push({
        ...p,
        id: uuidv7(createdAt.getTime()),
        sellerId: sellerIds[k % sellerIds.length]!,
        currency: 'USD',
        status: 'published',
        createdAt,
      });
    }
    added += await catalog.insertProducts(rows);
    options.onProgress?.(added, toAdd);
  }
  return {
    sellers: sellerIds.length,
    buyers: options.buyers,
    productsAdded: added,
    productsTotal: existing + added,
  };
}

/** What a fresh solo install gets on first start. */
export const DEMO_SEED = { products: 200, sellers: 4, buyers: 2 } as const;
