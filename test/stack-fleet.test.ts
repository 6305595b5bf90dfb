/**
 * `bazaar stack up` with real engines: one fleet (2 web instances, 1 worker, a PostgreSQL
 * primary, Redis, HAProxy, nginx) for the whole file. Sessions and carts cross instances; Redis
 * down leaves the catalog up and refuses authenticated requests; a SIGTERMed instance fails
 * readiness, HAProxy takes it out and its in-flight request finishes; under load a SIGKILL and a
 * SIGTERM lose no idempotent request and apply no checkout twice; nginx serves a media object's
 * second request from its cache; status is healthy and down leaves no process behind.
 * Skips when haproxy, nginx, redis-server or PostgreSQL's server programs are absent, unless
 * BAZAAR_REQUIRE_ENGINES=1 (then `stack up` installs them with apt).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  type FleetManifest,
  type FleetStatus,
  fleetDown,
  fleetPorts,
  fleetUp,
  haproxyServers,
  readFleet,
  signalFleetProcess,
  startFleetProcess,
} from '../ops/stack/stack-fleet.ts';
import { createLocalObjects } from '../src/platform/objects/local/local-objects.ts';
import { createUploadTokens } from '../src/platform/objects/local/upload-tokens.ts';

const PROGRAMS = {
  haproxy: ['/usr/sbin/haproxy', '/usr/bin/haproxy'],
  nginx: ['/usr/sbin/nginx', '/usr/bin/nginx'],
  'redis-server': ['/usr/bin/redis-server', '/usr/sbin/redis-server'],
  'PostgreSQL 15 server programs': ['/usr/lib/postgresql/15/bin/initdb'],
};
const missing = Object.entries(PROGRAMS)
  .filter(([, paths]) => !paths.some((p) => existsSync(p)))
  .map(([name]) => name);
const required = process.env['BAZAAR_REQUIRE_ENGINES'] === '1';
if (required && missing.length > 0 && process.getuid?.() !== 0)
  throw new Error(
    `BAZAAR_REQUIRE_ENGINES=1 but ${missing.join(', ')} missing and not root to apt-get install`,
  );
const skip =
  missing.length > 0 && !required
    ? `${missing.join(', ')} absent (apt-get install haproxy nginx redis-server postgresql-15)`
    : undefined;

const run = promisify(execFile);
const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUYER1 = 'buyer1@bazaar.test';
const BUYER2 = 'buyer2@bazaar.test';
const PASSWORD = 'bazaar-demo-password';

describe('bazaar stack up: web fleet behind HAProxy and nginx', { skip }, () => {
  const parent = mkdtempSync(join(tmpdir(), 'bazaar-fleet-test-'));
  chmodSync(parent, 0o755);
  const dir = join(parent, 'fleet');
  // Inside this suite's port range (30000-30999), below the ephemeral range; a fleet uses P..P+41.
  const basePort = 30000 + 50 * Math.floor(Math.random() * 19);
  const ports = fleetPorts(basePort);
  let fleet: FleetManifest;
  let lb: string;
  let edge: string;
  const web = (i: number) => `http://127.0.0.1:${ports.web(i)}`;

  before(async () => {
    fleet = await fleetUp(
      { web: 2, workers: 1, replicas: 0, standby: false, dir, basePort, fast: true, photos: false },
      quiet,
    );
    lb = fleet.balancerUrl;
    edge = fleet.entryUrl;
  });
  after(async () => {
    await fleetDown({ dir, remove: true }, quiet).catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  });

  async function until<T>(
    what: string,
    check: () => Promise<T | undefined | false>,
    ms = 15_000,
  ): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const got = await check().catch(() => undefined);
      if (got !== undefined && got !== false) return got;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000}s`);
      await sleep(100);
    }
  }

  async function call(
    url: string,
    init: { method?: string; cookie?: string; body?: unknown; headers?: Record<string, string> } = {},
    // biome-ignore lint/suspicious/noExplicitAny: response bodies of several routes, read field by field
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.cookie ? { cookie: init.cookie } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {}
    return { status: res.status, body, headers: res.headers };
  }

  async function login(base: string, email: string): Promise<string> {
    const res = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    assert.equal(res.status, 200, `login of ${email} through ${base}: ${await res.text()}`);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('bazaar_session='));
    assert.ok(cookie, 'a session cookie');
    return cookie.split(';')[0]!;
  }

  async function products(limit = 50): Promise<{ id: string; stock: number }[]> {
    const r = await call(`${lb}/api/products?limit=${limit}`);
    assert.equal(r.status, 200);
    return r.body.items;
  }

  const serverStatus = async (name: string) =>
    (await haproxyServers(dir)).find((s) => s.name === name)?.status;

  it('when up, then status --json lists every process healthy with role, port and pid, and the entry URL', async () => {
    const { stdout } = await run(process.execPath, [
      'src/apps/cli.ts',
      'stack',
      'status',
      '--json',
      '--dir',
      dir,
    ]);
    const status = JSON.parse(stdout) as FleetStatus;
    assert.equal(status.entryUrl, `http://127.0.0.1:${basePort}`);
    assert.deepEqual(
      status.processes.map((p) => [p.name, p.role, p.port]),
      [
        ['primary', 'postgres', ports.db],
        ['redis', 'redis', ports.redis],
        ['web1', 'web', ports.web(1)],
        ['web2', 'web', ports.web(2)],
        ['worker1', 'worker', null],
        ['haproxy', 'haproxy', ports.haproxy],
        ['nginx', 'nginx', ports.nginx],
      ],
    );
    for (const p of status.processes) {
      assert.ok(p.healthy, `${p.name} healthy: ${p.health}`);
      assert.ok(typeof p.pid === 'number' && p.pid > 0, `${p.name} has a pid`);
    }
    assert.deepEqual(
      (await haproxyServers(dir)).map((s) => [s.name, s.status]),
      [
        ['web1', 'UP'],
        ['web2', 'UP'],
      ],
    );
  });

  it('when a session is created on instance A, then B knows it, a cart built across both stays whole, and logout on B ends it on A', async () => {
    const cookie = await login(web(1), BUYER1);
    const meOnB = await call(`${web(2)}/api/auth/me`, { cookie });
    assert.equal(meOnB.status, 200, JSON.stringify(meOnB.body));
    assert.equal(meOnB.body.email ?? meOnB.body.user?.email, BUYER1);

    const [p1, p2] = (await products()).filter((p) => p.stock >= 5);
    assert.ok(p1 && p2, 'two products in stock');
    assert.equal(
      (await call(`${web(1)}/api/cart/items/${p1.id}`, { method: 'PUT', cookie, body: { quantity: 2 } }))
        .status,
      200,
    );
    assert.equal(
      (await call(`${web(2)}/api/cart/items/${p2.id}`, { method: 'PUT', cookie, body: { quantity: 1 } }))
        .status,
      200,
    );
    for (const base of [web(1), web(2)]) {
      const cart = await call(`${base}/api/cart`, { cookie });
      assert.deepEqual(
        cart.body.items.map((i: { productId: string; quantity: number }) => [i.productId, i.quantity]).sort(),
        [
          [p1.id, 2],
          [p2.id, 1],
        ].sort(),
        `the whole cart on ${base}`,
      );
    }

    const out = await call(`${web(2)}/api/auth/logout`, { method: 'POST', cookie });
    assert.ok(out.status === 200 || out.status === 204, `logout: ${out.status}`);
    assert.equal((await call(`${web(1)}/api/auth/me`, { cookie })).status, 401);
  });

  it('when a media object is fetched twice through nginx, then the second is a cache HIT the app never sees', async () => {
    const objects = createLocalObjects({
      dir: join(dir, 'data', 'objects'),
      tokens: createUploadTokens({ secret: randomUUID() + randomUUID() }),
      mediaBaseUrl: '/media',
    });
    const path = `/media/fleet-test/${randomUUID()}.jpg`;
    await objects.put(path.slice(1), Buffer.from('not really a jpeg, but bytes'), {
      contentType: 'image/jpeg',
    });

    const first = await fetch(`${edge}${path}`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cache-status'), 'MISS');
    assert.match(first.headers.get('cache-control') ?? '', /immutable/);
    await first.arrayBuffer();
    const second = await fetch(`${edge}${path}`);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-cache-status'), 'HIT');
    assert.equal(await second.text(), 'not really a jpeg, but bytes');

    const seen = [1, 2]
      .map((i) => readFileSync(join(dir, 'logs', `web${i}.log`), 'utf8'))
      .join('\n')
      .split('\n')
      .filter((l) => l.includes(`"url":"${path}"`) && l.includes('incoming request'));
    assert.equal(seen.length, 1, 'the web instances received the URL once (the MISS)');
    const edgeLog = readFileSync(join(dir, 'logs', 'nginx-access.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes(path));
    assert.match(edgeLog[1] ?? '', /cache=HIT upstream=- /);

    const api = await fetch(`${edge}/api/products?limit=1`);
    await api.arrayBuffer();
    assert.equal(api.headers.get('x-cache-status'), null, 'the API passes through uncached');
  });

  it('when Redis is down, then catalog reads keep working, authenticated requests fail closed, and after it returns a new login works', async (t) => {
    const cookie = await login(lb, BUYER1);
    const [p] = await products(5);
    await signalFleetProcess(dir, 'redis', 'SIGTERM', { wait: true });
    try {
      const statuses = new Map<number, number>();
      let fiveHundreds = 0;
      for (let i = 0; i < 100; i++) {
        const url = [`${lb}/api/products?limit=5`, `${lb}/api/products/${p!.id}`, `${lb}/api/categories`][
          i % 3
        ]!;
        const r = await call(url);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500) fiveHundreds++;
      }
      assert.equal(fiveHundreds, 0, `catalog reads with Redis down: ${JSON.stringify([...statuses])}`);
      assert.deepEqual([...statuses.keys()], [200]);

      const me = await call(`${lb}/api/auth/me`, { cookie });
      // Fail closed with a clear 401 (its own code, Retry-After; the cookie is kept): never served
      // as the user, and no 5xx for a site that is up.
      assert.equal(me.status, 401, `me with Redis down: ${me.status}`);
      assert.equal(me.body.code, 'SESSIONS_UNAVAILABLE');
      assert.match(me.headers.get('content-type') ?? '', /problem\+json/);
      const page = await call(`${lb}/api/products/${p!.id}`, { cookie });
      assert.equal(page.status, 200, 'a signed-in visitor still reads the catalog, as anonymous');
      t.diagnostic(`Redis down: 100 catalog reads all 200; GET /api/auth/me → ${me.status} ${me.body.code}`);
    } finally {
      await startFleetProcess(dir, 'redis', quiet);
    }
    const fresh = await until(
      'login after Redis returns',
      async () => await login(lb, BUYER1).catch(() => undefined),
    );
    const me = await call(`${lb}/api/auth/me`, { cookie: fresh });
    assert.equal(me.status, 200);
  });

  it('when an instance gets SIGTERM with a slow request in flight, then /readyz turns 503, HAProxy marks it down, and the request completes', async () => {
    const port = ports.web(2);
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let response = '';
    socket.on('data', (d) => {
      response += d;
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password' });
    socket.write(
      `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body.slice(0, 10));
    await sleep(100);

    const pid = await signalFleetProcess(dir, 'web2', 'SIGTERM');
    assert.ok(pid);
    await until('web2 /readyz 503', async () => (await call(`${web(2)}/readyz`)).status === 503);
    await until('HAProxy marks web2 down', async () => (await serverStatus('web2'))?.startsWith('DOWN'));
    assert.equal(await serverStatus('web1'), 'UP');

    socket.write(body.slice(10));
    await closed;
    assert.match(
      response,
      /^HTTP\/1\.1 401 /,
      `the in-flight request got its answer: ${response.slice(0, 80)}`,
    );
    await until('web2 exits', async () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    assert.match(readFileSync(join(dir, 'logs', 'web2.log'), 'utf8'), /shutting down/);

    await startFleetProcess(dir, 'web2', quiet);
    await until('HAProxy marks web2 up again', async () => (await serverStatus('web2')) === 'UP');
  });

  it('when one instance is SIGKILLed and another SIGTERMed under load, then no idempotent request fails and no checkout is applied twice', async (t) => {
    const cookie = await login(lb, BUYER2);
    const catalog = (await products(100)).filter((p) => p.stock >= 20);
    assert.ok(catalog.length >= 10, 'products in stock for checkouts');
    const readUrls = [
      '/api/products?limit=10',
      '/api/categories',
      ...catalog.slice(0, 20).map((p) => `/api/products/${p.id}`),
      '/healthz',
    ];

    let stop = false;
    let phase = 'steady';
    const reads = { ok: 0, failed: [] as string[] };
    const checkout = { acked: new Set<string>(), firstFailures: [] as string[], unresolved: 0, rejected: 0 };

    async function readLane(lane: number): Promise<void> {
      for (let i = lane; !stop; i++) {
        const url = readUrls[i % readUrls.length]!;
        try {
          const r = await call(`${lb}${url}`);
          if (r.status === 200) reads.ok++;
          else reads.failed.push(`${r.status} ${url} (${phase})`);
        } catch (err) {
          reads.failed.push(`${(err as Error).message} ${url} (${phase})`);
        }
      }
    }

    async function checkoutLane(): Promise<void> {
      for (let i = 0; !stop; i++) {
        const p = catalog[i % catalog.length]!;
        try {
          const put = await call(`${lb}/api/cart/items/${p.id}`, {
            method: 'PUT',
            cookie,
            body: { quantity: 1 },
          });
          if (put.status === 200) reads.ok++;
          else reads.failed.push(`${put.status} PUT cart (${phase})`);
        } catch (err) {
          reads.failed.push(`${(err as Error).message} PUT cart (${phase})`);
          continue;
        }
        const key = `fleet-${randomUUID()}`;
        for (let attempt = 0; attempt < 5; attempt++) {
          const r = await call(`${lb}/api/orders`, {
            method: 'POST',
            cookie,
            headers: { 'idempotency-key': key },
          }).catch((err: Error) => ({ status: 0, body: err.message }));
          if (r.status === 200 || r.status === 201) {
            checkout.acked.add(r.body.id);
            break;
          }
          if (r.status >= 400 && r.status < 500 && r.status !== 409) {
            checkout.rejected++;
            break;
          }
          if (attempt === 0)
            checkout.firstFailures.push(`${r.status} ${JSON.stringify(r.body).slice(0, 120)} (${phase})`);
          if (attempt === 4) checkout.unresolved++;
          await sleep(500);
        }
      }
    }

    const lanes = [0, 1, 2, 3, 4].map((l) => readLane(l * 5));
    lanes.push(checkoutLane());
    try {
      await sleep(1500);
      phase = 'web1 SIGKILLed';
      await signalFleetProcess(dir, 'web1', 'SIGKILL', { wait: true });
      await sleep(1500);
      phase = 'web1 restarting';
      await startFleetProcess(dir, 'web1', quiet);
      await until('HAProxy marks web1 up again', async () => (await serverStatus('web1')) === 'UP');
      await sleep(1000);
      phase = 'web2 SIGTERMed';
      await signalFleetProcess(dir, 'web2', 'SIGTERM', { wait: true });
      phase = 'web2 restarting';
      await startFleetProcess(dir, 'web2', quiet);
      await until('HAProxy marks web2 up again', async () => (await serverStatus('web2')) === 'UP');
      await sleep(1000);
    } finally {
      stop = true;
      await Promise.all(lanes);
    }

    t.diagnostic(
      `under load: ${reads.ok} idempotent requests ok, ${reads.failed.length} failed; checkouts acknowledged ` +
        `${checkout.acked.size}, failed at first ${checkout.firstFailures.length} (${checkout.firstFailures.join('; ')}), ` +
        `unresolved ${checkout.unresolved}, rejected ${checkout.rejected}`,
    );
    assert.ok(reads.ok > 100, `requests served under load: ${reads.ok}`);
    assert.deepEqual(reads.failed, [], 'no idempotent request failed');
    assert.ok(checkout.acked.size > 3, `checkouts acknowledged: ${checkout.acked.size}`);
    assert.ok(
      checkout.firstFailures.length <= 1,
      `only a checkout in flight on the killed instance may fail: ${checkout.firstFailures.join('; ')}`,
    );
    assert.ok(
      checkout.firstFailures.every((f) => f.endsWith('(web1 SIGKILLed)')),
      `failures only right after the SIGKILL: ${checkout.firstFailures.join('; ')}`,
    );

    const placed: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(`${lb}/api/orders?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { cookie });
      assert.equal(page.status, 200);
      placed.push(...page.body.items.map((o: { id: string }) => o.id));
      cursor = page.body.nextCursor ?? null;
    } while (cursor);
    for (const id of checkout.acked) assert.ok(placed.includes(id), `acknowledged order ${id} exists`);
    assert.ok(
      placed.length <= checkout.acked.size + checkout.unresolved,
      `orders ${placed.length} vs acknowledged ${checkout.acked.size} + unresolved ${checkout.unresolved}: none applied twice`,
    );
  });

  it('when the fleet goes down, then none of its processes remains, and down again is a no-op', async () => {
    const { stdout } = await run(process.execPath, [
      'src/apps/cli.ts',
      'stack',
      'status',
      '--json',
      '--dir',
      dir,
    ]);
    const processes = (JSON.parse(stdout) as FleetStatus).processes;
    const pids = processes.map((p) => p.pid).filter((p) => p !== null);
    assert.equal(pids.length, 7, `every process runs before down: ${JSON.stringify(processes)}`);
    await fleetDown({ dir }, quiet);
    for (const pid of pids) {
      let gone = false;
      try {
        process.kill(pid, 0);
      } catch {
        gone = true;
      }
      if (!gone) {
        const state = readFileSync(`/proc/${pid}/stat`, 'utf8');
        gone = state.slice(state.lastIndexOf(')') + 2).startsWith('Z');
      }
      assert.ok(gone, `pid ${pid} stopped`);
    }
    assert.ok(readFleet(dir)!.processes.every((p) => p.pid === null));
    await fleetDown({ dir }, quiet);
  });
});
