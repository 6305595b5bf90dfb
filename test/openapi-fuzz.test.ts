/**
 * Property-based requests against every operation of the live /openapi.json, signed in as nobody,
 * a buyer, a seller or an admin: valid, near-valid (a field missing, an unknown field, one field
 * hostile) and hostile (wrong types, sizes, NUL, invalid UTF-8 and percent-encoding, huge
 * numbers, forged cursors, other content types). Every answer is below 500, every 4xx is a
 * problem document, and a refused write changes no business table.
 *
 * Seeded and bounded: FC_SEED reproduces a run (the seed is printed), FC_RUNS sets the count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { BACKENDS } from './support/engines.ts';
import { sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';

const SEED = process.env['FC_SEED'] ? Number(process.env['FC_SEED']) : Math.floor(Math.random() * 2 ** 31);
const RUNS = Number(process.env['FC_RUNS'] ?? 300);
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
};
type Parameter = { in: 'path' | 'query' | 'header'; name: string; required?: boolean; schema: Schema };
type Operation = { method: string; path: string; parameters: Parameter[]; body: Schema | undefined };
type Req = {
  method: string;
  url: string;
  who: 'anonymous' | 'buyer' | 'seller' | 'admin';
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
};

/** Domain → tables whose rows a refused request must leave as they were (outboxes by id). */
const BUSINESS_TABLES = {
  users: ['users.users', 'users.outbox'],
  catalog: ['catalog.products', 'catalog.stock_reservations', 'catalog.outbox'],
  media: ['media.photos', 'media.outbox'],
  orders: [
    'orders.orders',
    'orders.order_lines',
    'orders.seller_orders',
    'orders.idempotency_keys',
    'orders.outbox',
  ],
} as const;

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\r\n',
  '%00',
  '%E0%A4%A',
  '../../etc/passwd',
  "' or 1=1 --",
  '<script>alert(1)</script>',
  'NaN',
  'null',
  '-1',
  '1e308',
  '9'.repeat(400),
  '💥'.repeat(300),
  'x'.repeat(10_000),
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(1e308, -1e308, 2 ** 63, -(2 ** 53) - 1, 0.5, -0, 0, -1, null, true, false, [], {}),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constant(JSON.parse(`${'['.repeat(200)}${']'.repeat(200)}`)),
);

/** Percent-encodes every byte but the unreserved ones; lone surrogates go as U+FFFD. */
function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

type Known = { ids: Record<string, string[]>; cursors: string[] };

/** A value the schema accepts (mostly), for bodies and parameters. */
function fromSchema(schema: Schema, known: Known, name = '', depth = 0): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const members = schema.anyOf ?? schema.oneOf;
  if (members) return fc.oneof(...members.map((m) => fromSchema(m, known, name, depth)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string': {
      if (name === 'cursor') return fc.constantFrom(...known.cursors, 'AAAA');
      if (schema.format === 'date')
        return fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
      if (name === 'email')
        // Mostly fresh addresses, so that a sign-up gets past EMAIL_TAKEN to the database.
        return fc.oneof(fc.emailAddress(), { weight: 3, arbitrary: fc.uuid().map((u) => `${u}@fuzz.test`) });
      if (schema.pattern && /0-9a-fA-F\]\{8\}/.test(schema.pattern) && !/\|/.test(schema.pattern))
        return fc.oneof(fc.constantFrom(...(known.ids['any'] ?? [])), fc.uuid());
      if (schema.pattern && schema.pattern !== '^[^\\u0000]*$')
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((s) => s.length <= (schema.maxLength ?? 1000));
      const text = fc.string({
        minLength: schema.minLength ?? 0,
        maxLength: Math.min(schema.maxLength ?? 40, 40),
      });
      // Text that is valid but for one NUL: PostgreSQL cannot store it.
      return fc.oneof(
        { weight: 4, arbitrary: text },
        { weight: 1, arbitrary: text.map((x) => `${x}\u0000`) },
      );
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(schema.items ? fromSchema(schema.items, known, name, depth + 1) : fc.string(), {
        maxLength: 3,
      });
    case 'object': {
      if (depth > 3) return fc.constant({});
      const props = schema.properties ?? {};
      const required = new Set(schema.required ?? []);
      const entries = Object.entries(props).map(([k, s]) => {
        const arb = fromSchema(s, known, k, depth + 1);
        return [k, required.has(k) ? arb : fc.option(arb, { nil: undefined })] as const;
      });
      const base = fc
        .record(Object.fromEntries(entries))
        .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
      if (typeof schema.additionalProperties === 'object') {
        const extra = fc.dictionary(
          fc.string({ minLength: 1, maxLength: 10 }),
          fromSchema(schema.additionalProperties, known, '', depth + 1),
          { maxKeys: 3 },
        );
        return fc.tuple(base, extra).map(([a, b]) => ({ ...b, ...a }));
      }
      return base;
    }
    default:
      return fc.jsonValue({ maxDepth: 1 });
  }
}

/** A valid value, one changed field, a dropped or an unknown field, or something else entirely. */
function nearValid(schema: Schema, known: Known): fc.Arbitrary<unknown> {
  const valid = fromSchema(schema, known);
  const keys = Object.keys(schema.properties ?? {});
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    {
      weight: 3,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...(keys.length ? keys : ['x'])), hostileValue)
        .map(([v, k, bad]) => (v && typeof v === 'object' ? { ...(v as object), [k]: bad } : bad)),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...(keys.length ? keys : ['x'])))
        .map(([v, k]) =>
          v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).filter(([x]) => x !== k)) : v,
        ),
    },
    {
      weight: 1,
      arbitrary: valid.map((v) => (v && typeof v === 'object' ? { ...(v as object), unknownField: 1 } : v)),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...(keys.length ? keys : ['x'])))
        .map(([v, k]) => (v && typeof v === 'object' ? { ...(v as object), [k]: 'a\u0000b' } : v)),
    },
    { weight: 1, arbitrary: hostileValue },
  );
}

const rawBodies = fc.constantFrom<string | Buffer>(
  '{"title": ',
  '',
  'null',
  '{"__proto__": {"admin": true}}',
  '{"constructor": {"prototype": {"x": 1}}}',
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
  `{"title": "${'y'.repeat(1_100_000)}"}`,
);

function requestFor(op: Operation, known: Known): fc.Arbitrary<Req> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const query = op.parameters.filter((p) => p.in === 'query');
  const headers = op.parameters.filter((p) => p.in === 'header');
  const segment = (p: Parameter): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...(known.ids[p.name] ?? known.ids['any'] ?? ['x'])) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 2, arbitrary: hostileString.map(pct) },
      { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', 'a'.repeat(250), '%2e%2e', '1e308') },
    );
  const queryValue = (p: Parameter): fc.Arbitrary<string | undefined> =>
    fc.oneof(
      { weight: 4, arbitrary: fromSchema(p.schema, known, p.name).map((v) => pct(String(v))) },
      { weight: 2, arbitrary: hostileString.map(pct) },
      { weight: 1, arbitrary: fc.constantFrom('%E0%A4%A', '1e308', '-1', '99999999999999999999', '') },
      { weight: 2, arbitrary: fc.constant(undefined) },
    );
  return fc
    .record({
      segments: fc.tuple(...pathParams.map(segment)),
      query: fc.tuple(...query.map(queryValue)),
      unknownQuery: fc.option(fc.constantFrom('zzz=1', 'limit=1&limit=2', 'q[]=x', '__proto__=x'), {
        freq: 8,
      }),
      headers: fc.tuple(
        ...headers.map((p) =>
          fc.oneof(
            fromSchema(p.schema, known, p.name).map(String),
            fc.stringMatching(/^[\x20-\x7e]{0,200}$/),
          ),
        ),
      ),
      who: fc.constantFrom('anonymous', 'buyer', 'seller', 'admin') as fc.Arbitrary<Req['who']>,
      body: op.body
        ? fc.oneof(
            {
              weight: 6,
              arbitrary: nearValid(op.body, known).map((v) => JSON.stringify(v) as string | Buffer),
            },
            { weight: 1, arbitrary: rawBodies },
          )
        : fc.option(fc.constantFrom('{}', '{"x":1}'), { freq: 6 }).map((b) => b ?? undefined),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant('application/json') },
        {
          weight: 1,
          arbitrary: fc.constantFrom(
            'text/plain',
            'application/json; charset=latin1',
            'multipart/form-data',
            'application/x-www-form-urlencoded',
          ),
        },
      ),
    })
    .map(({ segments, query: values, unknownQuery, headers: hv, who, body, contentType }) => {
      let i = 0;
      const path = op.path.replace(/\{[^}]+\}/g, () => segments[i++] ?? 'x');
      const qs = query.flatMap((p, j) => (values[j] === undefined ? [] : [`${p.name}=${values[j]}`]));
      if (unknownQuery) qs.push(unknownQuery);
      const h: Record<string, string> = {};
      headers.forEach((p, j) => {
        h[p.name] = hv[j] ?? '';
      });
      if (body !== undefined) h['content-type'] = contentType;
      return {
        method: op.method,
        url: qs.length ? `${path}?${qs.join('&')}` : path,
        // Signing out would end the shared sessions the other requests use.
        who: op.path === '/api/auth/logout' ? 'anonymous' : who,
        headers: h,
        payload: body,
      };
    });
}

for (const backend of BACKENDS) {
  describe(`every operation of /openapi.json, generated, on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    const cookies: Record<string, string> = {};
    const known: Known = { ids: {}, cursors: [] };
    let operations: Operation[] = [];

    async function call(
      method: string,
      url: string,
      who: string,
      payload?: object,
      headers: Record<string, string> = {},
    ) {
      const res = await t.app.inject({
        method: method as 'GET',
        url,
        headers: { ...headers, ...(cookies[who] ? { cookie: cookies[who] } : {}) },
        ...(payload ? { payload } : {}),
      });
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
      return res;
    }

    async function fingerprint(): Promise<string> {
      const parts: string[] = [];
      for (const domain of Object.keys(BUSINESS_TABLES) as (keyof typeof BUSINESS_TABLES)[]) {
        const tables = BUSINESS_TABLES[domain];
        const db = t.platform.sql.for(domain).write;
        for (const table of tables) {
          const rows = table.endsWith('.outbox')
            ? sql<{
                f: string;
              }>`select coalesce(string_agg(id::text, ',' order by id), '') as f from ${sql.table(table)}`
            : sql<{
                f: string;
              }>`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as f from ${sql.table(table)} x`;
          parts.push(`${table}:${(await rows.execute(db)).rows[0]!.f}`);
        }
      }
      // Carts live in the key-value store; the photo-request counter counts refusals by design.
      const kv = await sql<{
        f: string;
      }>`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as f
        from platform.kv x where key not like 'media:photo-requests:%'`.execute(
        t.platform.sql.for('platform').write,
      );
      parts.push(`platform.kv:${kv.rows[0]!.f}`);
      return parts.join('\n');
    }

    before(async () => {
      t = await startTestApp(backend);
      for (const role of ['buyer', 'seller'] as const) {
        const res = await call('POST', '/api/auth/signup', 'anonymous', {
          email: `${role}@fuzz.test`,
          password: 'fuzzing password',
          name: `Fuzz ${role}`,
          role,
        });
        cookies[role] = sessionCookie(res);
      }
      const admin = await t.platform.sessions.create({
        userId: crypto.randomUUID(),
        data: { role: 'admin' },
      });
      cookies['admin'] = `bazaar_session=${admin.id}`;

      const categories = (await call('GET', '/api/categories', 'anonymous')).json() as {
        id: string;
        children?: { id: string }[];
      }[];
      const categoryIds = categories.flatMap((c) => [c.id, ...(c.children ?? []).map((x) => x.id)]);
      const products: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = await call('POST', '/api/products', 'seller', {
          categoryId: categoryIds[1],
          title: `Fuzz mug ${i}`,
          priceMinor: 1000 + i,
          stock: 50,
          status: 'published',
        });
        products.push(p.json().id);
      }
      await call('PUT', `/api/cart/items/${products[0]}`, 'buyer', { quantity: 1 });
      const order = await call('POST', '/api/orders', 'buyer', undefined, {
        'idempotency-key': 'fuzz-setup-1',
      });
      const photo = await call('POST', `/api/products/${products[1]}/photos`, 'seller', {
        contentType: 'image/png',
        size: 1000,
      });
      const page = (await call('GET', '/api/products?limit=1', 'anonymous')).json() as {
        nextCursor: string | null;
      };
      if (page.nextCursor) known.cursors.push(page.nextCursor, `${page.nextCursor.slice(0, -2)}AA`);
      const orderId = order.json().id as string;
      known.ids = {
        any: [...products, orderId, ...categoryIds.slice(0, 2)],
        id: [...products, orderId],
        productId: products,
        photoId: [photo.json().photoId],
      };

      const doc = (await call('GET', '/openapi.json', 'anonymous')).json() as {
        paths: Record<
          string,
          Record<
            string,
            { parameters?: Parameter[]; requestBody?: { content?: Record<string, { schema: Schema }> } }
          >
        >;
      };
      operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.entries(ops).map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          parameters: op.parameters ?? [],
          body: op.requestBody?.content?.['application/json']?.schema,
        })),
      );
    });
    after(() => t?.close());

    it('when any operation gets generated requests, then never a 5xx, every 4xx is a problem, and a refused write changes nothing', async (ctx) => {
      ctx.diagnostic(`FC_SEED=${SEED} FC_RUNS=${RUNS} (set both to reproduce)`);
      console.log(`openapi-fuzz on ${backend.name}: FC_SEED=${SEED} FC_RUNS=${RUNS}`);
      assert.ok(operations.length >= 25, `only ${operations.length} operations in /openapi.json`);
      // Writes weigh double: they are where bad input could reach the database.
      const arbitrary = fc.oneof(
        ...operations.map((op) => ({
          weight: UNSAFE.has(op.method) ? 2 : 1,
          arbitrary: requestFor(op, known),
        })),
      );
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(arbitrary, async (req) => {
          const unsafe = UNSAFE.has(req.method);
          const before = unsafe ? await fingerprint() : '';
          const res = await t.app.inject({
            method: req.method as 'GET',
            url: req.url,
            headers: { ...req.headers, ...(cookies[req.who] ? { cookie: cookies[req.who] } : {}) },
            ...(req.payload !== undefined ? { payload: req.payload } : {}),
          });
          seen.add(`${req.method} ${res.statusCode}`);
          const what = `${req.method} ${req.url.slice(0, 300)} as ${req.who} → ${res.statusCode} ${res.body.slice(0, 300)}`;
          assert.ok(res.statusCode < 500, what);
          if (res.statusCode < 400) return;
          assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
          const problem = res.json() as { status: number; code: string };
          assert.equal(problem.status, res.statusCode, what);
          assert.match(problem.code, /^[A-Z_]+$/, what);
          // A failed sign-in counts towards the account's lock-out and 429 counts by design.
          if (unsafe && problem.code !== 'INVALID_CREDENTIALS' && res.statusCode !== 429) {
            assert.equal(await fingerprint(), before, `refused, yet the data changed: ${what}`);
          }
        }),
        { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: 120_000 },
      );
      ctx.diagnostic(`method and status seen: ${[...seen].sort().join(', ')}`);
    });
  });
}
