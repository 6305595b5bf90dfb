/**
 * The shop in a real browser: Debian's Chromium, driven by playwright-core, against the real web
 * process (`node src/apps/web.ts`: PGlite on a fresh DATA_DIR, demo data, worker in-process, the
 * SPA served at `/`). The journeys of the front-end issue: a buyer, a seller, a checkout of an
 * item that sold out meanwhile, and a 375 px phone; and an anonymous visitor's pages and the API
 * docs. Every journey fails on a console error or warning (a Content-Security-Policy violation, a
 * failed request) that it does not provoke on purpose. Every page visited is saved as
 * `test-results/<journey>-<step>.png`; UPDATE_SCREENSHOTS=1 also writes the README's
 * `docs/screenshots/{home,product,seller}.png`. Skips without /usr/bin/chromium (fails in CI).
 * Selectors follow the UI contract: roles and labels, never CSS classes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import {
  type APIRequestContext,
  type APIResponse,
  type Browser,
  type BrowserContextOptions,
  type Page,
  request,
} from 'playwright-core';
import sharp from 'sharp';
import {
  chromiumSkip,
  eventually,
  imagesLoaded,
  launchChromium,
  mailFiles,
  type RunningApp,
  shot,
  startApp,
  updateReadmeShots,
} from './support/browser.ts';

const DEMO_PASSWORD = 'bazaar-demo-password';
const DESKTOP = { width: 1280, height: 800 } as const;
const PHONE = { width: 375, height: 812 } as const;
const ORDER_PATH = /^\/orders\/([0-9a-f-]{36})$/;
const SELLER_PRODUCT_PATH = /^\/sell\/products\/([0-9a-f-]{36})$/;

type ListItem = { id: string; title: string; priceMinor: number; stock: number; photo: unknown };

const usd = (minor: number) =>
  new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(minor / 100);
/** A made-up word (letters only) that no demo product contains, so a search finds one product. */
const uniqueWord = (prefix: string) =>
  prefix + Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

async function json<T>(response: APIResponse, what: string): Promise<T> {
  if (!response.ok()) throw new Error(`${what}: HTTP ${response.status()} ${await response.text()}`);
  return (await response.json()) as T;
}

describe('the shop in Chromium', { skip: chromiumSkip }, () => {
  let app: RunningApp;
  let browser: Browser;
  let api: APIRequestContext;
  let photoDir: string;

  before(async () => {
    photoDir = await mkdtemp(join(tmpdir(), 'bazaar-browser-photo-'));
    app = await startApp();
    browser = await launchChromium();
    api = await request.newContext({ baseURL: app.baseUrl });
  });

  after(async () => {
    await api?.dispose();
    await browser?.close();
    await app?.stop();
    if (photoDir) await rm(photoDir, { recursive: true, force: true });
  });

  /**
   * Runs `steps` in a fresh browser context (its own cookies and storage). On failure it saves
   * `<journey>-failed.png` and appends the app's last log lines. Uncaught page errors fail it, and
   * so does any console error or warning — a Content-Security-Policy violation, a failed request
   * — other than those the journey provokes on purpose (`expectedConsole`).
   */
  async function inBrowser(
    journey: string,
    steps: (page: Page) => Promise<void>,
    options: BrowserContextOptions = {},
    expectedConsole: readonly RegExp[] = [],
  ): Promise<void> {
    const context = await browser.newContext({
      baseURL: app.baseUrl,
      viewport: DESKTOP,
      locale: 'en-US',
      ...options,
    });
    context.setDefaultTimeout(30_000);
    context.setDefaultNavigationTimeout(60_000);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const consoleMessages: string[] = [];
    page.on('console', (message) => {
      if (message.type() !== 'error' && message.type() !== 'warning') return;
      const text = `${message.type()}: ${message.text()} (${message.location().url})`;
      if (!expectedConsole.some((pattern) => pattern.test(text))) consoleMessages.push(text);
    });
    try {
      await steps(page);
      assert.deepEqual(pageErrors, [], 'the SPA threw no uncaught errors');
      assert.deepEqual(consoleMessages, [], 'the browser console has no errors or warnings');
    } catch (err) {
      await shot(page, journey, 'failed').catch(() => {});
      const context = `--- page errors: ${pageErrors.join(' | ') || 'none'}\n--- console: ${consoleMessages.join(' | ') || 'none'}\n--- app log:\n${app.logTail()}`;
      throw new Error(`${(err as Error).message}\n${context}`, { cause: err });
    } finally {
      await context.close();
    }
  }

  /** Published demo products that already have a ready photo (the worker makes them after start). */
  function productsWithPhotos(count: number): Promise<ListItem[]> {
    return eventually(
      `${count} demo products with a ready photo`,
      async () => {
        const page = await json<{ items: ListItem[] }>(
          await api.get('/api/products?limit=100'),
          'listing products',
        );
        const ready = page.items.filter((p) => p.photo !== null && p.stock > 5);
        return ready.length >= count ? ready.slice(0, count) : undefined;
      },
      180_000,
    );
  }

  /** Waits for the results of `q`; on a timeout says what the box holds and where the focus went. */
  async function atSearch(page: Page, q: string): Promise<void> {
    try {
      await page.waitForURL((url) => url.pathname === '/search' && url.searchParams.get('q') === q, {
        timeout: 15_000,
      });
    } catch (err) {
      const state = await page.evaluate(
        '({ url: location.pathname + location.search, box: document.querySelector("input[type=search]")?.value, focus: document.activeElement?.outerHTML.slice(0, 60) })',
      );
      throw new Error(`the results for "${q}" did not open (typed keys lost?): ${JSON.stringify(state)}`, {
        cause: err,
      });
    }
  }

  /**
   * Types `text` into the header's search box in two bursts, like a person who pauses: the
   * results follow the first half (debounced), and the box keeps focus so the rest lands in it.
   */
  async function search(page: Page, text: string): Promise<void> {
    const box = page.getByRole('searchbox', { name: 'Search products' });
    const cut = text.includes(' ') ? text.lastIndexOf(' ') : Math.ceil(text.length / 2);
    await box.fill('');
    await box.pressSequentially(text.slice(0, cut), { delay: 40 });
    await atSearch(page, text.slice(0, cut).trim());
    const focused = await page.evaluate('document.activeElement?.getAttribute("aria-label") ?? null');
    assert.equal(
      focused,
      'Search products',
      'the search box keeps focus when the results open, or typing on is lost',
    );
    await page.keyboard.type(text.slice(cut), { delay: 40 });
    await atSearch(page, text);
  }

  /** The path matched by `pattern` once the page is there; returns its first group. */
  async function waitForPath(page: Page, pattern: RegExp): Promise<string> {
    await page.waitForURL((url) => pattern.test(url.pathname));
    return pattern.exec(new URL(page.url()).pathname)![1]!;
  }

  async function logIn(page: Page, email: string): Promise<void> {
    await page.goto('/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(DEMO_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
  }

  const cartLink = (page: Page) => page.getByRole('link', { name: /^Cart\b/ });

  async function goToCheckout(page: Page): Promise<void> {
    await cartLink(page).click();
    await page.waitForURL('**/cart');
    await page
      .getByRole('button', { name: 'Checkout' })
      .or(page.getByRole('link', { name: 'Checkout' }))
      .first()
      .click();
    await page.waitForURL('**/checkout');
    await page.getByRole('button', { name: 'Place order' }).waitFor();
  }

  it('when a buyer searches, adds two products, signs up and checks out, then the order is placed, listed and confirmed by email', async () => {
    // The README's home screenshot should show a full "Featured" row: wait for more photos then.
    const [first, second] = (await productsWithPhotos(updateReadmeShots ? 12 : 2)) as [ListItem, ListItem];
    const email = `buyer-${randomUUID()}@example.com`;

    await inBrowser('buyer', async (page) => {
      await page.goto('/');
      await page.getByRole('heading', { name: 'Bazaar', level: 1 }).waitFor();
      await page.getByRole('heading', { name: 'Featured' }).waitFor();
      await page.getByRole('heading', { name: 'Best sellers' }).waitFor();
      await imagesLoaded(page);
      await shot(page, 'buyer', '01-home', 'home');

      await search(page, 'qqzzxnoproduct');
      await page.getByText(/No products match/).waitFor();
      await shot(page, 'buyer', '02-search-empty');

      // Search as you type, then open the product from the results.
      await search(page, first.title);
      await page.locator(`a[href="/p/${first.id}"]`).first().waitFor();
      await shot(page, 'buyer', '03-search-results');
      await page.locator(`a[href="/p/${first.id}"]`).first().click();
      await page.waitForURL(`**/p/${first.id}`);
      await page.getByRole('heading', { level: 1, name: first.title }).waitFor();
      await page.getByText(usd(first.priceMinor)).first().waitFor();
      await page.getByText('In stock', { exact: true }).first().waitFor();
      const photo = page.locator(`img[srcset][alt="${first.title}"]`).first();
      await photo.waitFor();
      await imagesLoaded(page);
      assert.ok((await photo.evaluate((img) => (img as { naturalWidth: number }).naturalWidth)) > 0);
      await shot(page, 'buyer', '04-product', 'product');
      await page.getByRole('spinbutton', { name: 'Quantity' }).fill('1');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByRole('link', { name: /^Cart\b.*\b1\b/ }).waitFor();

      await search(page, second.title);
      await page.locator(`a[href="/p/${second.id}"]`).first().click();
      await page.getByRole('heading', { level: 1, name: second.title }).waitFor();
      await shot(page, 'buyer', '05-second-product');
      await page.getByRole('button', { name: 'Add to cart' }).click();
      await page.getByRole('link', { name: /^Cart\b.*\b2\b/ }).waitFor();

      // Sign up with the cart still anonymous: it must come along.
      await page.getByRole('link', { name: 'Sign up' }).click();
      await page.waitForURL('**/signup');
      await page.getByLabel('Name').fill('Browser Buyer');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('a-long-password-for-tests');
      const buy = page.getByRole('radio', { name: /^Buy/ });
      if ((await buy.count()) > 0) await buy.check();
      else await page.getByLabel('I want to').selectOption('buyer');
      await shot(page, 'buyer', '06-signup');
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.getByRole('button', { name: 'Log out' }).waitFor();
      await page.getByText('Browser Buyer').first().waitFor();

      await cartLink(page).click();
      await page.waitForURL('**/cart');
      for (const p of [first, second]) {
        await page.getByLabel(`Quantity for ${p.title}`).waitFor();
        await page.getByRole('button', { name: `Remove ${p.title}` }).waitFor();
      }
      await page.getByLabel(`Quantity for ${second.title}`).fill('2');
      await page.getByLabel(`Quantity for ${second.title}`).press('Tab');
      await eventually('the cart to hold 2 of the second product', async () => {
        const cart = await json<{ items: { productId: string; quantity: number }[] }>(
          await page.request.get('/api/cart'),
          'reading the cart',
        );
        return cart.items.find((l) => l.productId === second.id)?.quantity === 2 ? true : undefined;
      });
      await shot(page, 'buyer', '07-cart');

      await goToCheckout(page);
      await page.getByText(first.title).first().waitFor();
      await page.getByText(second.title).first().waitFor();
      await shot(page, 'buyer', '08-checkout');
      await page.getByRole('button', { name: 'Place order' }).click();
      const orderId = await waitForPath(page, ORDER_PATH);
      await page.getByRole('heading', { name: 'Order placed' }).waitFor();
      await page.getByText(first.title).first().waitFor();
      await page.getByText(second.title).first().waitFor();
      await shot(page, 'buyer', '09-order');

      await page.goto('/orders');
      await page.locator(`a[href="/orders/${orderId}"]`).first().waitFor();
      await shot(page, 'buyer', '10-order-history');

      // The worker sends it from the order.placed event, through the file mail adapter.
      const confirmation = await eventually(
        `the order confirmation .eml to ${email} under ${app.dataDir}/mail`,
        async () => {
          for (const raw of await mailFiles(app.dataDir)) {
            const mail = await simpleParser(raw);
            const to = mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : [];
            if (to.includes(email) && mail.subject === `Your Bazaar order ${orderId}`) return mail;
          }
          return undefined;
        },
      );
      for (const p of [first, second]) {
        assert.ok(confirmation.text?.includes(p.title), `the confirmation lists “${p.title}”`);
      }
    });
  });

  it('when a seller creates a product, uploads a photo and publishes it, then the photo becomes ready, a visitor finds the product and the seller sees no Add to cart on it', async () => {
    const word = uniqueWord('Lumen');
    const title = `Hand-blown ${word} lantern`;
    const jpeg = join(photoDir, 'lantern.jpg');
    await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#2a9d8f' } })
      .composite([
        {
          input: Buffer.from(
            `<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="1200"><circle cx="800" cy="600" r="380" fill="#e9c46a"/></svg>`,
          ),
        },
      ])
      .jpeg({ quality: 85 })
      .toFile(jpeg);
    let productId = '';

    await inBrowser('seller', async (page) => {
      await logIn(page, 'seller1@bazaar.test');
      await page.goto('/sell');
      for (const name of ['My products', 'My orders', 'Analytics']) {
        await page.getByRole('link', { name }).first().waitFor();
      }
      await shot(page, 'seller', '01-dashboard');
      await page.getByRole('link', { name: 'My products' }).first().click();
      await page.waitForURL('**/sell/products');
      await shot(page, 'seller', '02-products');

      await page
        .getByRole('link', { name: 'New product' })
        .or(page.getByRole('button', { name: 'New product' }))
        .first()
        .click();
      await page.waitForURL('**/sell/products/new');
      await page.getByLabel('Title').fill(title);
      await page.getByLabel('Description').fill('Mouth-blown glass on a brass base; a browser test made it.');
      await page.getByLabel('Price').fill('34.50');
      await page.getByLabel('Stock').fill('7');
      await page.getByLabel('Category').selectOption({ index: 1 });
      await shot(page, 'seller', '03-new-product');
      await page.getByRole('button', { name: 'Save' }).click();
      productId = await waitForPath(page, SELLER_PRODUCT_PATH);

      await page.getByLabel('Add photos').setInputFiles(jpeg);
      const progress = page.getByRole('progressbar').first();
      await progress.waitFor();
      await eventually('the upload progress bar to reach 100%', async () =>
        (await progress.evaluate((bar) => (bar as unknown as { value: number }).value)) === 100
          ? true
          : undefined,
      );
      // The worker in the web process makes the variants; the page polls the status.
      const status = page.getByText(/^\s*(ready|failed\b.*)\s*$/i).first();
      await status.waitFor({ timeout: 120_000 });
      assert.equal((await status.textContent())?.trim().toLowerCase(), 'ready');
      await shot(page, 'seller', '04-photo-ready', 'seller');

      await page.getByRole('button', { name: 'Publish', exact: true }).click();
      await page.getByRole('button', { name: 'Publish', exact: true }).waitFor({ state: 'detached' });
      await page.getByText('published', { exact: true }).first().waitFor();
      await shot(page, 'seller', '05-published');

      await page.getByRole('link', { name: 'My products' }).first().click();
      await page.waitForURL('**/sell/products');
      await page.getByText(title).first().waitFor();
      await imagesLoaded(page);
      await shot(page, 'seller', '06-products-after');

      // Their own product page offers no way to buy it.
      await page.goto(`/p/${productId}`);
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.getByText('You sell this product, so it cannot go in your cart.').waitFor();
      assert.equal(await page.getByRole('button', { name: 'Add to cart' }).count(), 0);
    });

    await inBrowser('seller', async (page) => {
      await page.goto('/');
      await search(page, word);
      const result = page.locator(`a[href="/p/${productId}"]`).first();
      await result.waitFor();
      await shot(page, 'seller', '07-visitor-search');
      await result.click();
      await page.getByRole('heading', { level: 1, name: title }).waitFor();
      await page.getByText(usd(3450)).first().waitFor();
      const photo = page.locator(`img[srcset][alt="${title}"]`).first();
      await photo.waitFor();
      await imagesLoaded(page);
      assert.ok((await photo.evaluate((img) => (img as { naturalWidth: number }).naturalWidth)) > 0);
      await shot(page, 'seller', '08-visitor-product');
    });
  });

  it('when the last unit sells while another buyer is at checkout, then placing the order says it is sold out and creates no order', async () => {
    const seller = await request.newContext({ baseURL: app.baseUrl });
    const rival = await request.newContext({ baseURL: app.baseUrl });
    try {
      await json(
        await seller.post('/api/auth/login', {
          data: { email: 'seller2@bazaar.test', password: DEMO_PASSWORD },
        }),
        'seller login',
      );
      const categories = await json<{ id: string; children: { id: string }[] }[]>(
        await seller.get('/api/categories'),
        'categories',
      );
      const title = `Last ${uniqueWord('Ember')} teapot`;
      const product = await json<{ id: string }>(
        await seller.post('/api/products', {
          data: {
            categoryId: categories[0]!.children[0]?.id ?? categories[0]!.id,
            title,
            priceMinor: 4200,
            stock: 1,
            status: 'published',
          },
        }),
        'creating the one-unit product',
      );

      await inBrowser(
        'failure',
        async (page) => {
          await logIn(page, 'buyer2@bazaar.test');
          const ordersBefore = (
            await json<{ items: unknown[] }>(await page.request.get('/api/orders'), 'orders')
          ).items.length;
          await page.goto(`/p/${product.id}`);
          await page.getByRole('heading', { level: 1, name: title }).waitFor();
          await page.getByText('1 left', { exact: true }).first().waitFor();
          await page.getByRole('button', { name: 'Add to cart' }).click();
          await page.getByRole('link', { name: /^Cart\b.*\b1\b/ }).waitFor();
          await shot(page, 'failure', '01-product');
          await goToCheckout(page);
          await shot(page, 'failure', '02-checkout');

          // Meanwhile another buyer takes the last unit.
          await json(
            await rival.post('/api/auth/signup', {
              data: {
                email: `rival-${randomUUID()}@example.com`,
                password: 'a-long-password',
                name: 'Rival',
                role: 'buyer',
              },
            }),
            'rival signup',
          );
          await json(
            await rival.put(`/api/cart/items/${product.id}`, { data: { quantity: 1 } }),
            'rival cart',
          );
          await json(
            await rival.post('/api/orders', { headers: { 'idempotency-key': randomUUID() }, data: {} }),
            'rival checkout',
          );

          await page.getByRole('button', { name: 'Place order' }).click();
          // A clear message names the product and says it is sold out (not an id, not a status code).
          await page
            .getByRole('alert')
            .filter({ hasText: /sold out/i })
            .filter({ hasText: title })
            .waitFor();
          await shot(page, 'failure', '03-sold-out');
          assert.equal(new URL(page.url()).pathname, '/checkout', 'the buyer stays at checkout');
          const ordersAfter = (
            await json<{ items: unknown[] }>(await page.request.get('/api/orders'), 'orders')
          ).items.length;
          assert.equal(ordersAfter, ordersBefore, 'no order was created');

          await page.goto(`/p/${product.id}`);
          await page.getByText('Sold out', { exact: true }).first().waitFor();
          await shot(page, 'failure', '04-product-sold-out');
        },
        {},
        // The refused checkout itself: Chromium logs every 4xx answer as a failed resource.
        [/^error: Failed to load resource: the server responded with a status of 409 .*\/api\/orders\)$/],
      );
    } finally {
      await seller.dispose();
      await rival.dispose();
    }
  });

  it('when an anonymous visitor browses the shop and opens the API docs, then the console stays empty: no policy violation, no 401', async () => {
    const [product] = (await productsWithPhotos(1)) as [ListItem];
    await inBrowser('anonymous', async (page) => {
      const statuses: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) statuses.push(`${r.status()} ${new URL(r.url()).pathname}`);
      });
      await page.goto('/');
      await page.getByRole('heading', { name: 'Featured' }).waitFor();
      await imagesLoaded(page);
      await page.goto(`/p/${product.id}`);
      await page.getByRole('heading', { level: 1, name: product.title }).waitFor();
      await imagesLoaded(page);
      await page.goto('/cart');
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      await page.goto('/docs');
      // Swagger UI has rendered the document: an operation of the auth tag is listed.
      await page.getByText('/api/auth/session', { exact: true }).first().waitFor();
      await shot(page, 'anonymous', '01-docs');
      assert.deepEqual(statuses, [], 'no request failed');
    });
  });

  it('when a 375 px phone opens the home, search and product pages, then nothing overflows sideways', async () => {
    const [product] = (await productsWithPhotos(1)) as [ListItem];
    await inBrowser(
      'phone',
      async (page) => {
        const pages: [string, string, () => Promise<void>][] = [
          ['01-home', '/', () => page.getByRole('heading', { name: 'Featured' }).waitFor()],
          ['02-search', '/search?q=mug', () => page.locator('a[href^="/p/"]').first().waitFor()],
          [
            '03-product',
            `/p/${product.id}`,
            () => page.getByRole('heading', { level: 1, name: product.title }).waitFor(),
          ],
        ];
        for (const [step, path, loaded] of pages) {
          await page.goto(path);
          await loaded();
          await imagesLoaded(page);
          await shot(page, 'phone', step);
          const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
          assert.ok(width <= PHONE.width, `${path} is ${width} px wide on a ${PHONE.width} px screen`);
        }
      },
      { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
    );
  });
});
