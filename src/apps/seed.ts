/**
 * Demo data: accounts through the users module and products through the catalog module, each by
 * its public service (no table of theirs is touched here). Idempotent: accounts are matched by
 * email, and products are added only up to the requested total, so a rerun or a resumed run
 * after a crash reaches the same counts without duplicates.
 */

import sharp from 'sharp';
import type { Config } from '../config/config.ts';
import { createCatalogService, type ProductSeed } from '../modules/catalog/index.ts';
import { createMediaService } from '../modules/media/index.ts';
import { createUsersService } from '../modules/users/index.ts';
import type { Platform } from '../platform/platform.ts';
import { uuidv7 } from '../shared/ids.ts';
import { DEMO_PASSWORD, demoProduct, prng, type SeedCategory } from './seed-data.ts';

export type SeedOptions = Readonly<{
  products: number;
  sellers: number;
  buyers: number;
  /** Generated photos for this many of the newest products without photos (processed by the worker); default 0. */
  photos?: number;
  /** Called after each batch with products inserted so far in this run and the number to insert. */
  onProgress?: (done: number, total: number) => void;
}>;

export type SeedReport = Readonly<{
  sellers: number;
  buyers: number;
  productsAdded: number;
  productsTotal: number;
  photosAdded: number;
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
  const photosAdded = options.photos ? await seedPhotos(platform, options.photos) : 0;
  return {
    sellers: sellerIds.length,
    buyers: options.buyers,
    productsAdded: added,
    productsTotal: existing + added,
    photosAdded,
  };
}

const PALETTE = ['#264653', '#2a9d8f', '#e9c46a', '#f4a261', '#e76f51', '#6d597a', '#355070', '#b56576'];

/**
 * One generated photo for each of the `count` newest published products that have none: a
 * solid colour and the product's title drawn by sharp (no network), stored as the upload and
 * signalled like a browser upload, so the worker's image job processes it. Returns how many.
 */
async function seedPhotos(platform: Platform, count: number): Promise<number> {
  const catalog = createCatalogService(platform);
  const media = createMediaService({ platform });
  const page = await catalog.listProducts({ limit: Math.min(count, 100) });
  let added = 0;
  for (const [i, p] of page.items.entries()) {
    const owner = { userId: p.sellerId, role: 'seller' as const };
    if ((await media.listPhotos(owner, p.id)).length > 0) continue;
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
  return sharp({ create: { width: 1200, height: 900, channels: 3, background: colour } })
    .composite([{ input: Buffer.from(svg) }])
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** What a fresh solo install gets on first start. */
export const DEMO_SEED = { products: 200, sellers: 4, buyers: 2, photos: 24 } as const;
