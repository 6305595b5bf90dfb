/**
 * The notification templates through the mail port: each message, addressed with mailboxOf,
 * goes through the file adapter and through the SMTP adapter (to a real SMTP server) and is
 * parsed back as a mail client would: right recipient, subject, text and HTML parts. Then the
 * whole path on every SQL backend with MAIL_TRANSPORT=smtp: sign-ups, a checkout and a shipment
 * through HTTP, the events through the worker's consumers, and the SMTP server receiving each
 * message once, for the right person. (The same path with the file adapter: journey.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { RunningWorker } from '../src/apps/worker-runtime.ts';
import {
  mailboxOf,
  orderConfirmationMessage,
  orderShippedMessage,
  type Person,
  type RenderedMail,
  sellerNewOrderMessage,
  welcomeMessage,
} from '../src/modules/notifications/index.ts';
import { createFileMailer } from '../src/platform/mail/file/file-mailer.ts';
import type { Mailer } from '../src/platform/mail/mail.ts';
import { createSmtpMailer } from '../src/platform/mail/smtp/smtp-mailer.ts';
import { uuidv7 } from '../src/shared/ids.ts';
import { BACKENDS } from './support/engines.ts';
import { type Smtp, startSmtp } from './support/smtp.ts';
import { replicasCaughtUp, sessionCookie, startTestApp, type TestApp } from './support/test-app.ts';
import { startTestWorker } from './support/worker.ts';

const ORDER = '0190f5d2-7b1c-7a00-8000-000000000042';
const BUYER: Person = { name: 'Zoë "<b>" Buyer, Jr.', email: 'zoe@example.com' };
const SELLER: Person = { name: 'Sam & Co', email: 'sam@example.com' };
const LINES = [{ title: 'Café <mug>', quantity: 2, priceMinor: 2400 }];

const MESSAGES: [Person, RenderedMail][] = [
  [BUYER, welcomeMessage({ ...BUYER, role: 'buyer' })],
  [
    BUYER,
    orderConfirmationMessage({
      orderId: ORDER,
      buyer: BUYER,
      lines: LINES,
      totalMinor: 4800,
      currency: 'EUR',
    }),
  ],
  [SELLER, sellerNewOrderMessage({ orderId: ORDER, seller: SELLER, lines: LINES, currency: 'EUR' })],
  [BUYER, orderShippedMessage({ orderId: ORDER, buyer: BUYER, lines: LINES })],
];

async function sendAll(mailer: Mailer): Promise<void> {
  for (const [i, [to, rendered]] of MESSAGES.entries()) {
    await mailer.send({ to: mailboxOf(to), ...rendered, idempotencyKey: `event-${i}` });
  }
}

async function assertDelivered(raws: Buffer[]): Promise<void> {
  assert.equal(raws.length, MESSAGES.length);
  for (const [i, raw] of raws.entries()) {
    const [person, rendered] = MESSAGES[i]!;
    const mail = await simpleParser(raw);
    const to = mail.to && !Array.isArray(mail.to) ? mail.to.value : [];
    assert.deepEqual(
      to.map((a) => a.address),
      [person.email],
    );
    assert.equal(mail.subject, rendered.subject);
    assert.equal(mail.text, rendered.text);
    assert.equal(mail.html, rendered.html);
  }
}

describe('notification messages through the mail port', () => {
  it('when each message is sent through the file adapter, then each .eml reaches the right person intact', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bazaar-notify-'));
    const mailer = createFileMailer({ dir, from: 'Bazaar <no-reply@bazaar.test>', log: () => {} });
    try {
      await sendAll(mailer);
      const files = (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
      await assertDelivered(await Promise.all(files.map((f) => readFile(join(dir, f)))));
    } finally {
      await mailer.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('when each message is sent through the SMTP adapter, then the server receives each for the right person intact', async () => {
    const smtp = await startSmtp({ auth: { user: 'u', pass: 'p' } });
    const mailer = createSmtpMailer({
      url: smtp.url,
      from: 'Bazaar <no-reply@bazaar.test>',
      timeoutMs: 5000,
    });
    try {
      await sendAll(mailer);
      assert.deepEqual(
        smtp.received.map((r) => r.recipients),
        MESSAGES.map(([p]) => [p.email]),
      );
      await assertDelivered(smtp.received.map((r) => r.raw));
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });
});

const KITCHEN = '0190a8c0-0000-7000-8000-000000000101';

for (const backend of BACKENDS) {
  describe(`notification emails from events over SMTP on ${backend.name}`, { skip: backend.skip }, () => {
    let smtp: Smtp;
    let t: TestApp;
    let worker: RunningWorker;
    before(async () => {
      smtp = await startSmtp({ auth: { user: 'bazaar', pass: 's3cret' } });
      t = await startTestApp(backend, { MAIL_TRANSPORT: 'smtp', SMTP_URL: smtp.url });
      worker = await startTestWorker(t);
    });
    after(async () => {
      await worker?.stop();
      await t?.close();
      await smtp?.close();
    });

    async function signup(name: string, role: 'buyer' | 'seller', cookie?: string) {
      const email = `${role}-${uuidv7()}@example.com`;
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/auth/signup',
        headers: cookie ? { cookie } : {},
        payload: { email, password: 'a-long-password', name, role },
      });
      assert.equal(res.statusCode, 201, res.body);
      return { email, cookie: sessionCookie(res) };
    }

    /** Every message the server accepted: envelope recipients, To address, subject, text. */
    async function received() {
      return Promise.all(
        smtp.received.map(async (r) => {
          const mail = await simpleParser(r.raw);
          const to = mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : [];
          return { recipients: r.recipients, to, subject: mail.subject ?? '', text: mail.text ?? '' };
        }),
      );
    }

    it('when a seller and a buyer sign up, the buyer checks out and the seller ships, then the SMTP server gets each message once, for the right person', async () => {
      const seller = await signup('Potter Pat', 'seller');
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/products',
        headers: { cookie: seller.cookie },
        payload: {
          categoryId: KITCHEN,
          title: 'Glazed jug',
          priceMinor: 3200,
          stock: 5,
          status: 'published',
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      const productId = (created.json() as { id: string }).id;
      const buyer = await signup('Ada Buyer', 'buyer');
      await replicasCaughtUp(t);
      const put = await t.app.inject({
        method: 'PUT',
        url: `/api/cart/items/${productId}`,
        headers: { cookie: buyer.cookie },
        payload: { quantity: 2 },
      });
      assert.equal(put.statusCode, 200, put.body);
      const placed = await t.app.inject({
        method: 'POST',
        url: '/api/orders',
        headers: { cookie: buyer.cookie, 'idempotency-key': 'smtp-journey' },
      });
      assert.equal(placed.statusCode, 201, placed.body);
      const orderId = (placed.json() as { id: string }).id;
      await worker.drain();
      const shipped = await t.app.inject({
        method: 'POST',
        url: `/api/seller/orders/${orderId}/ship`,
        headers: { cookie: seller.cookie },
      });
      assert.equal(shipped.statusCode, 200, shipped.body);
      await worker.drain();

      const mails = await received();
      for (const m of mails) assert.deepEqual(m.recipients, m.to, 'envelope and To name the same person');
      const summary = mails.map((m) => [m.to[0], m.subject]).sort();
      assert.deepEqual(
        summary,
        [
          [buyer.email, 'Welcome to Bazaar, Ada Buyer'],
          [buyer.email, `Your Bazaar order ${orderId}`],
          [buyer.email, `Your Bazaar order ${orderId} has shipped`],
          [seller.email, 'Welcome to Bazaar, Potter Pat'],
          [seller.email, `New order ${orderId}: 2 items to ship`],
        ].sort(),
      );
      const confirmation = mails.find((m) => m.subject === `Your Bazaar order ${orderId}`)!;
      assert.match(confirmation.text, /Glazed jug/);
      const notice = mails.find((m) => m.subject.startsWith('New order'))!;
      assert.match(notice.text, /Glazed jug/);
      assert.ok(smtp.logins.length > 0, 'the mailer signed in');
      assert.ok(
        smtp.logins.every((l) => l.ok),
        'the configured credentials were presented',
      );
    });
  });
}
