/**
 * Believable demo catalog text, generated deterministically (a seeded PRNG), so every fresh
 * install shows the same shop and benchmarks see the same data.
 */

/** Mulberry32: small, fast, good enough for demo data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a of a string: a stable 32-bit hash, e.g. to shuffle ids the same way on every run. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const ADJECTIVES = [
  'Handmade',
  'Vintage',
  'Classic',
  'Compact',
  'Rustic',
  'Minimalist',
  'Organic',
  'Sturdy',
  'Lightweight',
  'Premium',
  'Everyday',
  'Speckled',
  'Woven',
  'Recycled',
  'Hand-painted',
  'Nordic',
  'Weatherproof',
  'Cozy',
];
const COLOURS = [
  'sand',
  'charcoal',
  'forest green',
  'ocean blue',
  'terracotta',
  'ivory',
  'mustard',
  'plum',
  'slate',
];
const MATERIALS = [
  'oak',
  'walnut',
  'stoneware',
  'linen',
  'cotton',
  'wool',
  'leather',
  'steel',
  'bamboo',
  'glass',
];

/** Nouns by a word that appears in the category's name; the first match wins. */
const NOUNS: [RegExp, string[]][] = [
  [
    /kitchen|cook|dining|table/i,
    ['mug', 'teapot', 'chef knife', 'cutting board', 'salad bowl', 'espresso cups', 'spice rack'],
  ],
  [
    /home|decor|furniture|garden|bed|bath/i,
    ['throw blanket', 'table lamp', 'plant pot', 'wall clock', 'cushion cover', 'bookshelf', 'doormat'],
  ],
  [
    /fashion|cloth|wear|shoe|jewel|accessor|bag/i,
    ['scarf', 'tote bag', 'leather belt', 'beanie', 'sneakers', 'silver ring', 'rain jacket'],
  ],
  [
    /electron|audio|phone|computer|camera|gaming|tech/i,
    [
      'wireless earbuds',
      'phone stand',
      'USB-C hub',
      'desk speaker',
      'mechanical keyboard',
      'webcam',
      'power bank',
    ],
  ],
  [
    /book|read|comic|magazine/i,
    ['cookbook', 'field guide', 'poetry collection', 'graphic novel', 'travel journal', 'atlas', 'notebook'],
  ],
  [
    /sport|outdoor|fitness|camp|cycl|run/i,
    ['yoga mat', 'water bottle', 'trail backpack', 'camping lantern', 'running socks', 'bike light', 'tent'],
  ],
  [
    /toy|game|kid|baby|puzzle/i,
    ['wooden blocks', 'jigsaw puzzle', 'plush fox', 'board game', 'kite', 'train set', 'puppet'],
  ],
  [
    /art|craft|sew|paint|draw|knit/i,
    ['watercolour set', 'sketchbook', 'knitting kit', 'brush set', 'embroidery hoop', 'clay kit', 'pastels'],
  ],
  [
    /beauty|health|care|soap/i,
    ['soap bar', 'face oil', 'bath salts', 'hair comb', 'lip balm', 'candle', 'hand cream'],
  ],
];
const GENERIC = ['gift set', 'organiser', 'keepsake box', 'starter kit', 'bundle'];

export type SeedCategory = Readonly<{ id: string; name: string; parentName?: string | undefined }>;

export type SeedProduct = Readonly<{
  categoryId: string;
  title: string;
  description: string;
  priceMinor: number;
  stock: number;
  attributes: Record<string, string | number | boolean>;
}>;

export function demoProduct(random: () => number, category: SeedCategory): SeedProduct {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const label = `${category.parentName ?? ''} ${category.name}`;
  const nouns = NOUNS.find(([re]) => re.test(label))?.[1] ?? GENERIC;
  const noun = pick(nouns);
  const adjective = pick(ADJECTIVES);
  const colour = pick(COLOURS);
  const material = pick(MATERIALS);
  const title = `${adjective} ${material} ${noun} in ${colour}`;
  const description =
    `A ${adjective.toLowerCase()} ${noun} made from ${material}, finished in ${colour}. ` +
    `${pick(['Made in small batches.', 'Built to last for years.', 'A favourite gift.', 'Ships within two days.'])} ` +
    `${pick(['Care: wipe clean.', 'Each piece varies slightly.', 'Packed without plastic.', 'Comes with a care card.'])}`;
  // Prices cluster like a real shop: mostly 5–80, a long tail up to ~400.
  const dollars = Math.round(5 + random() ** 2.2 * 395);
  const priceMinor = dollars * 100 - (random() < 0.6 ? 1 : 0);
  return {
    categoryId: category.id,
    title,
    description,
    priceMinor,
    stock: Math.floor(random() * 60),
    attributes: { colour, material, handmade: adjective === 'Handmade' },
  };
}

/** The password of every demo account (hashed once for all of them). */
export const DEMO_PASSWORD = 'bazaar-demo-password';

/** What a fresh solo install gets on first start (`bazaar seed` without options, too). */
export const DEMO_SEED = { products: 200, sellers: 4, buyers: 2, orders: 0, photos: 24 } as const;
