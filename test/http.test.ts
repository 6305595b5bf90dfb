/** The HTTP edge every module shares: ids, errors, limits, docs, health. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BACKENDS } from './support/engines.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

for (const backend of BACKENDS) {
  describe(`HTTP edge on ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(backend, { BODY_LIMIT_BYTES: '2048' });
    });
    after(() => t?.close());

    it('when a request carries x-request-id, then the response echoes it; otherwise one is generated', async () => {
      const given = await t.app.inject({ url: '/healthz', headers: { 'x-request-id': 'trace-abc.123' } });
      assert.equal(given.headers['x-request-id'], 'trace-abc.123');
      const made = await t.app.inject({ url: '/healthz' });
      const again = await t.app.inject({ url: '/healthz' });
      const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      assert.match(String(made.headers['x-request-id']), uuidShape);
      assert.match(String(again.headers['x-request-id']), uuidShape);
      assert.notEqual(again.headers['x-request-id'], made.headers['x-request-id']);
      const hostile = await t.app.inject({
        url: '/healthz',
        headers: { 'x-request-id': 'a b\u0000<script>' },
      });
      assert.notEqual(hostile.headers['x-request-id'], 'a b\u0000<script>');
    });

    it('when the route is unknown, then the answer is a 404 problem with a stable code', async () => {
      const res = await t.app.inject({ url: '/api/nothing-here?x=1' });
      assert.equal(res.statusCode, 404);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const body = res.json();
      assert.equal(body.code, 'ROUTE_NOT_FOUND');
      assert.equal(body.status, 404);
      assert.equal(body.instance, '/api/nothing-here');
      assert.equal(body.requestId, res.headers['x-request-id']);
    });

    it('when the body is malformed JSON, over the size limit, or not JSON, then 400, 413 and 415 problems', async () => {
      const malformed = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: '{"email": ',
      });
      assert.equal(malformed.statusCode, 400);
      assert.equal(malformed.json().code, 'MALFORMED_JSON');
      const big = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ email: 'x@example.com', password: 'p'.repeat(4096) }),
      });
      assert.equal(big.statusCode, 413);
      assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
      const text = await t.app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'text/plain' },
        payload: '{"email":"x@example.com","password":"whatever12"}',
      });
      assert.equal(text.statusCode, 415);
      assert.equal(text.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('when /healthz and /readyz are asked, then both are up with migrations applied', async () => {
      assert.deepEqual((await t.app.inject({ url: '/healthz' })).json(), { status: 'ok' });
      const ready = await t.app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 200);
      assert.equal(ready.json().database, backend.name);
    });

    it('when /openapi.json is fetched, then it is OpenAPI 3.1 and documents every API route', async () => {
      const res = await t.app.inject({ url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      const doc = res.json();
      assert.equal(doc.openapi, '3.1.0');
      for (const [path, method] of [
        ['/api/auth/signup', 'post'],
        ['/api/auth/login', 'post'],
        ['/api/auth/logout', 'post'],
        ['/api/auth/me', 'get'],
        ['/api/categories', 'get'],
        ['/api/products', 'get'],
        ['/api/products', 'post'],
        ['/api/products/{id}', 'get'],
        ['/api/products/{id}', 'patch'],
        ['/api/products/{id}', 'delete'],
        ['/healthz', 'get'],
        ['/readyz', 'get'],
      ] as const) {
        const op = doc.paths?.[path]?.[method];
        assert.ok(op, `${method.toUpperCase()} ${path} is documented`);
        assert.ok(op.responses && Object.keys(op.responses).length > 0, `${method} ${path} has responses`);
      }
      const docs = await t.app.inject({ url: '/docs/' });
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /swagger/i);
    });

    it('when /openapi.json is read, then every operation has a unique operationId, its security and problem+json errors', async () => {
      const doc = (await t.app.inject({ url: '/openapi.json' })).json();
      assert.ok(doc.servers?.length > 0, 'servers');
      assert.equal(doc.info.license?.name, 'MIT');
      const ids = new Set<string>();
      type Operation = {
        operationId?: string;
        security?: unknown[];
        responses: Record<string, { content: Record<string, { schema: { $ref?: string } }> }>;
      };
      for (const [path, item] of Object.entries<Record<string, Operation>>(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
          const name = `${method.toUpperCase()} ${path}`;
          const id = op.operationId ?? '';
          assert.match(id, /^[a-z][A-Za-z]+$/, `${name} has an operationId`);
          assert.ok(!ids.has(id), `${name}: operationId ${id} is unique`);
          ids.add(id);
          assert.ok(Array.isArray(op.security), `${name} states its security`);
          assert.ok(op.responses['5XX'], `${name} declares 5XX`);
          for (const [status, response] of Object.entries(op.responses)) {
            if (!/^[45]/.test(status)) continue;
            assert.deepEqual(
              Object.keys(response.content),
              ['application/problem+json'],
              `${name} ${status}`,
            );
            assert.equal(
              response.content['application/problem+json']?.schema.$ref,
              '#/components/schemas/Problem',
            );
          }
        }
      }
      const me = doc.paths['/api/auth/me'].get;
      assert.deepEqual(me.security, [{ session: [] }]);
      assert.ok(me.responses['401'], 'a route that needs a session declares 401');
      assert.deepEqual(doc.paths['/api/categories'].get.security, [], 'public routes need no session');
      assert.deepEqual(
        doc.paths['/api/cart'].get.security,
        [{}, { session: [] }],
        'the cart works with or without',
      );
      const limit = doc.paths['/api/products'].get.parameters.find(
        (p: { name: string }) => p.name === 'limit',
      );
      assert.equal(limit.required, false, 'a query parameter with a default need not be sent');
    });
  });
}
