/**
 * Domains own their data (BRIEF rule 2): no transaction of one domain touches another domain's
 * schema, so that any domain can move to a database of its own. Proven on PostgreSQL by
 * recording every statement the process sends through `pg` (the driver under the SQL port and
 * pg-boss) while a whole journey runs — sign-ups, a product with a photo through the media
 * pipeline, an anonymous cart merged at sign-in, checkout, shipping, a cancellation, every event
 * consumer and every periodic task — then grouping the statements into transactions per
 * connection (BEGIN … COMMIT/ROLLBACK, or one statement alone) and naming the schemas each
 * touches.
 *
 * One kind of transaction is allowed to cross, and only in its documented shape: the outbox
 * relay's, which reads a domain's `outbox`, looks up `platform.event_subscriptions` and queues
 * the events' jobs (`pgboss.*`) in the transaction that marks the rows published (outbox-relay.ts
 * says what becomes of that once the jobs live in another database).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import sharp from 'sharp';
import { MODULES } from '../src/apps/modules.ts';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import type { Product } from '../src/modules/catalog/index.ts';
import { DOMAINS } from '../src/platform/sql/sql.ts';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

/** Every business domain's schema; `platform` holds shared infrastructure (sessions, kv, subscriptions). */
const DOMAIN_SCHEMAS: readonly string[] = DOMAINS.filter((d) => d !== 'platform');
const SCHEMAS = [...DOMAIN_SCHEMAS, 'platform', 'pgboss'];
/** `schema.table`, quoted or not, not preceded by another name part (a column of a qualified table). */
const QUALIFIED = new RegExp(`(?<![\\w."])"?(${SCHEMAS.join('|')})"?\\s*\\.\\s*"?([a-z_][a-z0-9_]*)"?`, 'gi');

/** The schema-qualified tables a transaction (or a lone statement) named, and its statements. */
type Tx = { tables: Set<string>; statements: string[] };

/** Tables named by one statement's text (string literals left out: queue names look qualified). */
function tablesOf(text: string): string[] {
  const code = text.replace(/'(?:[^']|'')*'/g, "''");
  return [...code.matchAll(QUALIFIED)].map((m) => `${m[1]!.toLowerCase()}.${m[2]!.toLowerCase()}`);
}

const schemaOf = (table: string) => table.slice(0, table.indexOf('.'));

/** The relay's batch: a domain's outbox, the subscriptions, pg-boss's tables; nothing else. */
function isRelayBatch(tables: readonly string[]): boolean {
  return tables.every(
    (t) => t.endsWith('.outbox') || t === 'platform.event_subscriptions' || schemaOf(t) === 'pgboss',
  );
}

const postgres = BACKENDS.find((b) => b.name === 'postgres')!;

describe('domain isolation on postgres', { skip: postgres.skip }, () => {
  let t: TestApp;
  let worker: RunningWorker;
  let dataDir: string;
  const finished: Tx[] = [];
  const open = new WeakMap<object, Tx>();
  let recording = false;
  const original = pg.Client.prototype.query;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bazaar-isolation-'));
    t = await startTestApp(postgres, { DATA_DIR: dataDir, MAIL_TRANSPORT: 'file' });
    worker = await startTestWorker(t);
    // Observes the real traffic; every call goes on to pg unchanged.
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      if (recording) observe(this, args[0]);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
  });
  after(async () => {
    pg.Client.prototype.query = original;
    await worker?.stop();
    await t?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  function observe(client: object, config: unknown): void {
    const text =
      typeof config === 'string'
        ? config
        : ((config as { text?: unknown } | null)?.text as string | undefined);
    if (typeof text !== 'string') return;
    const head = text.trim().toLowerCase();
    let tx = open.get(client);
    if (/^(begin|start transaction)\b/.test(head) && !/;\s*\S/.test(head)) {
      open.set(client, { tables: new Set(), statements: [] });
      return;
    }
    if (/^(commit|rollback|end)\b/.test(head)) {
      if (tx) finished.push(tx);
      open.delete(client);
      return;
    }
    const alone = !tx;
    tx ??= { tables: new Set(), statements: [] };
    for (const table of tablesOf(text)) tx.tables.add(table);
    tx.statements.push(text.replace(/\s+/g, ' ').slice(0, 200));
    if (alone) finished.push(tx);
  }

  async function api(method: string, url: string, cookie?: string, payload?: unknown, headers = {}) {
    return t.app.inject({
      method: method as 'GET',
      url,
      headers: { ...(cookie ? { cookie } : {}), ...headers },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
  }

  it('when a whole journey runs with the worker, then no transaction touches two domain schemas', async () => {
    recording = true;
    const seller = await api('POST', '/api/auth/signup', undefined, {
      email: 'isolated-seller@example.com',
      password: 'a-long-password',
      name: 'Seller',
      role: 'seller',
    });
    assert.equal(seller.statusCode, 201, seller.body);
    const sellerCookie = sessionCookie(seller);
    const categories = (await api('GET', '/api/categories')).json() as { children: { id: string }[] }[];
    const created = await api('POST', '/api/products', sellerCookie, {
      categoryId: categories[0]!.children[0]!.id,
      title: 'Isolated teapot',
      priceMinor: 3100,
      stock: 10,
      status: 'published',
    });
    assert.equal(created.statusCode, 201, created.body);
    const product = created.json() as Product;

    // A photo through the media pipeline: upload, the image job, the catalog's projection.
    const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#a63' } })
      .jpeg()
      .toBuffer();
    const asked = await api('POST', `/api/products/${product.id}/photos`, sellerCookie, {
      contentType: 'image/jpeg',
      size: jpeg.length,
    });
    assert.equal(asked.statusCode, 201, asked.body);
    const { upload } = asked.json() as { upload: { url: string; headers: Record<string, string> } };
    const put = await t.app.inject({
      method: 'PUT',
      url: upload.url,
      headers: upload.headers,
      payload: jpeg,
    });
    assert.equal(put.statusCode, 200, put.body);
    await worker.drain();

    // An anonymous cart, sign-up, checkout twice, a cancellation, shipping.
    const visitor = await api('PUT', `/api/cart/items/${product.id}`, undefined, { quantity: 2 });
    assert.equal(visitor.statusCode, 200, visitor.body);
    const anonymous = visitor.cookies.find((c) => c.name === 'bazaar_session');
    const buyer = await api(
      'POST',
      '/api/auth/signup',
      anonymous ? `bazaar_session=${anonymous.value}` : undefined,
      { email: 'isolated-buyer@example.com', password: 'a-long-password', name: 'Buyer', role: 'buyer' },
    );
    assert.equal(buyer.statusCode, 201, buyer.body);
    const buyerCookie = sessionCookie(buyer);
    assert.equal((await api('GET', '/api/cart', buyerCookie)).statusCode, 200);
    const first = await api('POST', '/api/orders', buyerCookie, undefined, {
      'idempotency-key': crypto.randomUUID(),
    });
    assert.equal(first.statusCode, 201, first.body);
    await api('PUT', `/api/cart/items/${product.id}`, buyerCookie, { quantity: 1 });
    const second = await api('POST', '/api/orders', buyerCookie, undefined, {
      'idempotency-key': crypto.randomUUID(),
    });
    assert.equal(second.statusCode, 201, second.body);
    const cancelled = await api(
      'POST',
      `/api/orders/${(second.json() as { id: string }).id}/cancel`,
      buyerCookie,
    );
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    const shipped = await api(
      'POST',
      `/api/seller/orders/${(first.json() as { id: string }).id}/ship`,
      sellerCookie,
    );
    assert.equal(shipped.statusCode, 200, shipped.body);
    assert.equal((await api('GET', `/api/products/${product.id}`)).statusCode, 200);
    assert.equal((await api('GET', '/api/products?q=teapot')).statusCode, 200);
    await worker.drain();

    // Every module's periodic tasks, once each.
    const log = { info: () => {}, error: () => {} };
    for (const task of MODULES.flatMap(
      (m) => m.tasks?.({ config: t.config, platform: t.platform, log }) ?? [],
    )) {
      await task.run();
    }
    recording = false;

    const touched = new Set(finished.flatMap((tx) => [...tx.tables].map(schemaOf)));
    for (const schema of ['users', 'catalog', 'media', 'orders', 'analytics', 'notifications', 'pgboss'])
      assert.ok(touched.has(schema), `the journey reached ${schema} (recorded: ${[...touched].join(', ')})`);
    let relayBatches = 0;
    const crossing = finished.filter((tx) => {
      const schemas = new Set([...tx.tables].map(schemaOf));
      const domains = [...schemas].filter((s) => DOMAIN_SCHEMAS.includes(s));
      if (domains.length === 0 || schemas.size === 1) return false;
      if (domains.length === 1 && isRelayBatch([...tx.tables])) {
        relayBatches++;
        return false;
      }
      return true;
    });
    assert.deepEqual(
      crossing.map((tx) => ({ tables: [...tx.tables], statements: tx.statements })),
      [],
      'transactions of a domain that touch another schema',
    );
    assert.ok(relayBatches > 0, 'the outbox relay was seen');
    console.log(
      `domain isolation: ${finished.length} transactions and lone statements recorded over schemas ` +
        `${[...touched].sort().join(', ')}; ${relayBatches} outbox relay batches; none other crosses a schema`,
    );
  });
});
