/**
 * Harness of the browser journeys: the real web process (`node src/apps/web.ts`, PGlite on a fresh
 * DATA_DIR, demo data, worker in-process, mail as .eml files), Debian's Chromium driven by
 * playwright-core (never a downloaded browser), screenshots and small polling helpers.
 *
 * Chromium is `/usr/bin/chromium` (`apt-get install -y chromium`; `.ci/run` installs it). When it
 * is absent the suites skip with the reason printed, unless BAZAAR_REQUIRE_ENGINES=1 (CI), which
 * fails instead. Ports come from 29600–29699 only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const CHROMIUM = '/usr/bin/chromium';
const PORTS = { first: 29600, last: 29699 } as const;
/** The app builds the SPA at start when it is missing or stale: minutes on a busy 2-core machine. */
const STARTUP_TIMEOUT_MS = 180_000;

const required = process.env['BAZAAR_REQUIRE_ENGINES'] === '1';

/** A reason to skip the browser suites, or undefined when Chromium is installed. */
export const chromiumSkip: string | undefined = existsSync(CHROMIUM)
  ? undefined
  : `Chromium is not installed at ${CHROMIUM}; install Debian's package (apt-get install -y chromium) to run the browser journeys (CI does)`;

if (chromiumSkip && required) {
  throw new Error(`BAZAAR_REQUIRE_ENGINES=1 but ${chromiumSkip}`);
}

/** Screenshots of every page a journey visits (gitignored; CI keeps them as artifacts). */
export const RESULTS_DIR = join(ROOT, 'test-results');
/** README screenshots, written only with UPDATE_SCREENSHOTS=1. */
export const README_SHOTS_DIR = join(ROOT, 'docs', 'screenshots');
/** UPDATE_SCREENSHOTS=1: `shot()` also writes the README's screenshots. */
export const updateReadmeShots = process.env['UPDATE_SCREENSHOTS'] === '1';

export type RunningApp = Readonly<{
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  baseUrl: string;
  dataDir: string;
  /** The process's output so far (its last 200 KB). */
  output(): string;
  /** Its last warnings and errors (and any line that is not a JSON log line), for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after 15 s; removes the data directory. */
  stop(): Promise<void>;
}>;

/** The first port of this suite's range that nobody listens on. */
async function freePortInRange(): Promise<number> {
  for (let port = PORTS.first; port <= PORTS.last; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${PORTS.first}-${PORTS.last}; stop whatever holds them`);
}

/**
 * Starts the web process as an operator would (`npm start` without npm) on a fresh DATA_DIR and
 * resolves once `/readyz` answers 200. The environment is minimal on purpose: PGlite, local
 * objects, file mail, SQL sessions, regardless of the developer's shell or `.env`.
 */
export async function startApp(extraEnv: Record<string, string> = {}): Promise<RunningApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bazaar-browser-'));
  const port = await freePortInRange();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'src/apps/web.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? tmpdir(),
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      // Empty values win over a developer's `.env` and select the embedded adapters.
      DATABASE_URL: '',
      REDIS_URL: '',
      MAIL_TRANSPORT: 'file',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (d: Buffer) => {
    out += d.toString();
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  const until = Date.now() + STARTUP_TIMEOUT_MS;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  for (;;) {
    if (exitCode !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`the web process exited with ${exitCode} before it was ready:\n${tail(out)}`);
    }
    try {
      if ((await fetch(`${baseUrl}/readyz`)).ok) break;
    } catch {}
    if (Date.now() > until) {
      await stop();
      throw new Error(
        `the web process was not ready at ${baseUrl}/readyz within ${STARTUP_TIMEOUT_MS / 1000} s:\n${tail(out)}`,
      );
    }
    await sleep(250);
  }
  const logTail = (lines = 20) =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^\{"level":(10|20|30),/.test(l))
      .slice(-lines)
      .join('\n') || '(no warnings or errors)';
  return { baseUrl, dataDir, output: () => out, logTail, stop };
}

/** Debian's Chromium, headless, with the switches that keep it off the network and quiet. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/**
 * Saves a full-page screenshot as `test-results/<journey>-<step>.png`. With `readme` and
 * UPDATE_SCREENSHOTS=1 also a viewport-sized `docs/screenshots/<readme>.png` for the README.
 */
export async function shot(page: Page, journey: string, step: string, readme?: string): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  await page.screenshot({ path: join(RESULTS_DIR, `${journey}-${step}.png`), fullPage: true });
  if (readme && updateReadmeShots) {
    await mkdir(README_SHOTS_DIR, { recursive: true });
    await page.screenshot({ path: join(README_SHOTS_DIR, `${readme}.png`) });
  }
}

/** Waits until every <img> on the page has finished loading (or failed), so screenshots show photos. */
export async function imagesLoaded(page: Page): Promise<void> {
  // Polled from here: waitForFunction's in-page poll evaluates a string, which the app's
  // Content-Security-Policy (no 'unsafe-eval') refuses.
  const until = Date.now() + 15_000;
  while (!(await page.evaluate('Array.from(document.images).every((i) => i.complete)'))) {
    if (Date.now() > until) throw new Error('the images on the page did not finish loading within 15 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

/** The `.eml` files under DATA_DIR/mail (the file mail adapter), as text. */
export async function mailFiles(dataDir: string): Promise<string[]> {
  const dir = join(dataDir, 'mail');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.eml')).sort();
  return Promise.all(names.map((f) => readFile(join(dir, f), 'utf8')));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tail(text: string, lines = 60): string {
  return text.split('\n').slice(-lines).join('\n');
}
