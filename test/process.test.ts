/** The web entry point as an operator runs it: a real process, real signals. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const WEB = new URL('../src/apps/web.ts', import.meta.url).pathname;

/** Every child this file started: a failed test must not leave its server running (and the run hanging). */
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function run(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
} {
  const child = spawn(process.execPath, [WEB], {
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** Start-up migrates a fresh embedded database: on a loaded two-core machine that has taken 40 s. */
async function waitForListening(output: () => string, timeoutMs = 120_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output());
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not start:\n${output()}`);
}

describe('web process', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bazaar-process-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('when settings are bad, then it names each in one line with an example and exits non-zero', async () => {
    const p = run({
      DATA_DIR: dataDir,
      PORT: 'eighty',
      DATABASE_URL: 'mysql://db/x',
      SESSION_IDLE_TTL: '5',
      CLICKSTREAM_RETENTION: '5m',
      STREAM_STORE: 'kafka',
    });
    assert.equal(await p.exit, 1);
    const lines = p.output().split('\n');
    assert.ok(lines.some((l) => l.includes('PORT="eighty"') && l.includes('example: PORT=')));
    assert.ok(lines.some((l) => l.includes('DATABASE_URL="mysql://db/x"') && l.includes('postgres://')));
    assert.ok(
      lines.some((l) => l.includes('SESSION_IDLE_TTL="5"') && l.includes('example: SESSION_IDLE_TTL=')),
    );
    assert.ok(
      lines.some(
        (l) => l.includes('CLICKSTREAM_RETENTION="5m"') && l.includes('example: CLICKSTREAM_RETENTION=7d'),
      ),
    );
    assert.ok(
      lines.some((l) => l.includes('STREAM_STORE="kafka"') && l.includes('example: STREAM_STORE=redis')),
    );
  });

  it('when SIGTERM arrives mid-request, then readiness drops, the request finishes and the exit code is 0', async () => {
    const p = run({ DATA_DIR: dataDir, PORT: '0', SEED: 'false', SHUTDOWN_GRACE: '5s' });
    const port = await waitForListening(p.output);
    // A request in flight: headers and half a body sent, the rest after the signal.
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let response = '';
    socket.on('data', (d) => {
      response += d;
    });
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password' });
    socket.write(
      `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body.slice(0, 10));
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.write(body.slice(10));
    await new Promise<void>((r) => socket.once('close', () => r()));
    assert.match(
      response,
      /^HTTP\/1\.1 (401|404) /,
      `the in-flight request got its answer: ${response.slice(0, 80)}`,
    );
    assert.equal(await p.exit, 0, p.output());
    assert.match(p.output(), /shutting down/);
  });

  it('when the port is already in use, then it says so in one sentence and exits 1 before any start-up work', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const { port } = taken.address() as { port: number };
    const fresh = await mkdtemp(join(tmpdir(), 'bazaar-port-'));
    try {
      const started = Date.now();
      const p = run({ DATA_DIR: fresh, PORT: String(port), HOST: '127.0.0.1' });
      const killer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
      const code = await p.exit;
      clearTimeout(killer);
      assert.equal(code, 1, p.output());
      const lines = p.output().trim().split('\n');
      assert.equal(lines.length, 1, `one line, no stack traces:\n${p.output()}`);
      assert.match(
        lines[0]!,
        new RegExp(`^bazaar: port ${port} on 127\\.0\\.0\\.1 is already in use.*set PORT`),
      );
      assert.deepEqual(await readdir(fresh), [], 'no database was opened, migrated or seeded');
      assert.ok(Date.now() - started < 10_000, `it gave up at once (${Date.now() - started} ms)`);
    } finally {
      taken.close();
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('when clients knock on the port while it starts, then they are turned away and it still starts listening there', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((r) => probe.close(() => r()));
    const fresh = await mkdtemp(join(tmpdir(), 'bazaar-port-'));
    const p = run({
      DATA_DIR: fresh,
      PORT: String(port),
      HOST: '127.0.0.1',
      SEED: 'false',
      SERVE_WEB: 'false',
    });
    try {
      // A health checker: connects every 50 ms and keeps each connection open until it is closed.
      const until = Date.now() + 120_000;
      let answered = false;
      while (!answered && Date.now() < until) {
        answered = await new Promise<boolean>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          // A connection accepted but never answered: give up on it after a while, knock again.
          socket.setTimeout(2000, () => {
            socket.destroy();
            resolve(false);
          });
          socket.on('error', () => resolve(false));
          socket.on('close', () => resolve(false));
          socket.on('connect', () =>
            socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
          );
          socket.on('data', (d) => {
            resolve(String(d).startsWith('HTTP/1.1 200'));
            socket.destroy();
          });
        });
        if (!answered) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(answered, `the app answered on its port within 120 s:\n${p.output()}`);
      assert.match(p.output(), new RegExp(`Server listening at http://127\\.0\\.0\\.1:${port}`));
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
      await rm(fresh, { recursive: true, force: true });
    }
  });
});
