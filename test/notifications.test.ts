/**
 * The notification templates through the mail port: each message, addressed with mailboxOf,
 * goes through the file adapter and through the SMTP adapter (to a real SMTP server) and is
 * parsed back as a mail client would: right recipient, subject, text and HTML parts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
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
import { startSmtp } from './support/smtp.ts';

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
