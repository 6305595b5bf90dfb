/**
 * The mail port's contract. Every adapter runs it (test/mail.test.ts): the file adapter, and the
 * SMTP adapter against a real SMTP server started by the test; SES later. It uses only the
 * Mailer interface plus what the subject supplies: every message the backend received, as raw
 * RFC 5322 bytes with its recipients, which the suite parses with mailparser as a mail client
 * would.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';
import { AppError } from '../../shared/errors.ts';
import type { Mailer, MailMessage } from './mail.ts';

export type ReceivedMail = Readonly<{
  /** The message exactly as stored or transmitted. */
  raw: Buffer;
  /** Envelope recipients (SMTP RCPT TO); the To addresses where there is no envelope. */
  recipients: readonly string[];
}>;

export type MailContractSubject = Readonly<{
  name: string;
  skip: string | undefined;
  /** True when a repeated idempotency key delivers nothing the second time. */
  deliversOncePerKey: boolean;
  /** A fresh, empty backend and a mailer on it whose default sender is `from`. */
  setup(options: { from: string }): Promise<{
    mailer: Mailer;
    /** Everything delivered so far, oldest first. */
    received(): Promise<ReceivedMail[]>;
    teardown(): Promise<void>;
  }>;
}>;

const FROM = 'Bazaar Test <no-reply@bazaar.test>';
const BASE: MailMessage = {
  to: 'Ann Buyer <ann@example.com>',
  subject: 'Your order 42',
  text: 'Thank you for your order.\nIt ships soon.',
  html: '<p>Thank you for your <b>order</b>.</p>',
};

const addresses = (a: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((o) => o.value.map((v) => v.address ?? ''));

export function mailContract(subject: MailContractSubject): void {
  describe(`mail port contract: ${subject.name}`, { skip: subject.skip }, () => {
    const withMailer = async (
      fn: (mailer: Mailer, received: () => Promise<ReceivedMail[]>) => Promise<void>,
    ): Promise<void> => {
      const backend = await subject.setup({ from: FROM });
      try {
        await fn(backend.mailer, backend.received);
      } finally {
        await backend.mailer.close();
        await backend.teardown();
      }
    };
    const parsedAll = async (received: () => Promise<ReceivedMail[]>): Promise<ParsedMail[]> =>
      Promise.all((await received()).map((r) => simpleParser(r.raw)));

    it('when a message is sent, then it arrives with subject, text and HTML parts, sender and Message-ID', () =>
      withMailer(async (mailer, received) => {
        const sent = await mailer.send(BASE);
        assert.match(sent.messageId, /^<[^<>@\s]+@bazaar\.test>$/);
        assert.deepEqual(sent.refused, []);
        const all = await received();
        assert.equal(all.length, 1);
        assert.deepEqual(all[0]!.recipients, ['ann@example.com']);
        const mail = await simpleParser(all[0]!.raw);
        assert.equal(mail.subject, 'Your order 42');
        assert.equal(mail.text?.trim(), 'Thank you for your order.\nIt ships soon.');
        assert.equal(mail.html, '<p>Thank you for your <b>order</b>.</p>');
        assert.equal(mail.messageId, sent.messageId);
        assert.deepEqual(mail.from?.value, [{ name: 'Bazaar Test', address: 'no-reply@bazaar.test' }]);
        assert.deepEqual(addresses(mail.to), ['ann@example.com']);
        assert.ok(mail.date instanceof Date && !Number.isNaN(mail.date.getTime()));
        const contentType = mail.headerLines.find((h) => h.key === 'content-type')?.line ?? '';
        assert.match(contentType, /multipart\/alternative/i);
      }));

    it('when a message is sent, then it is RFC 5322 text: every line ends in CRLF and none exceeds 998 characters', () =>
      withMailer(async (mailer, received) => {
        await mailer.send({
          ...BASE,
          text: `long line ${'x'.repeat(2000)}`,
          html: `<p>${'y'.repeat(3000)}</p>`,
        });
        const raw = (await received())[0]!.raw.toString('latin1');
        assert.doesNotMatch(raw, /[^\r]\n/, 'a bare LF');
        for (const line of raw.split('\r\n')) assert.ok(line.length <= 998, `line of ${line.length} chars`);
        const mail = await simpleParser((await received())[0]!.raw);
        assert.equal(mail.text?.trim(), `long line ${'x'.repeat(2000)}`);
      }));

    it('when a sender is given, then it replaces the default', () =>
      withMailer(async (mailer, received) => {
        const sent = await mailer.send({ ...BASE, from: 'Shop Desk <desk@shop.example>' });
        assert.match(sent.messageId, /@shop\.example>$/);
        const [mail] = await parsedAll(received);
        assert.deepEqual(mail!.from?.value, [{ name: 'Shop Desk', address: 'desk@shop.example' }]);
      }));

    it('when several recipients are given, then one message reaches all of them', () =>
      withMailer(async (mailer, received) => {
        await mailer.send({ ...BASE, to: ['a@example.com', '"Doe, Bo" <bo@example.org>'] });
        const all = await received();
        assert.equal(all.length, 1);
        assert.deepEqual([...all[0]!.recipients].sort(), ['a@example.com', 'bo@example.org']);
        const mail = await simpleParser(all[0]!.raw);
        assert.deepEqual(mail.to && !Array.isArray(mail.to) && mail.to.value, [
          { name: '', address: 'a@example.com' },
          { name: 'Doe, Bo', address: 'bo@example.org' },
        ]);
      }));

    it('when subject, names and body are not ASCII, then they arrive intact', () =>
      withMailer(async (mailer, received) => {
        await mailer.send({
          to: 'Zoë Ångström <zoe@example.com>',
          subject: 'Café crème — 12,50 € ✓ 注文',
          text: 'Grüße aus Köln — ☕ ×2',
          html: '<p>Grüße aus Köln — ☕ &times;2</p>',
        });
        const [mail] = await parsedAll(received);
        assert.equal(mail!.subject, 'Café crème — 12,50 € ✓ 注文');
        assert.equal(mail!.text?.trim(), 'Grüße aus Köln — ☕ ×2');
        assert.equal(mail!.html, '<p>Grüße aus Köln — ☕ &times;2</p>');
        assert.equal(mail!.to && !Array.isArray(mail!.to) && mail!.to.value[0]?.name, 'Zoë Ångström');
      }));

    it('when extra headers are given, then they arrive as sent', () =>
      withMailer(async (mailer, received) => {
        await mailer.send({
          ...BASE,
          headers: { 'X-Entity-Ref-ID': 'order-42', 'List-Unsubscribe': '<https://bazaar.test/unsub>' },
        });
        const [mail] = await parsedAll(received);
        assert.equal(mail!.headers.get('x-entity-ref-id'), 'order-42');
        assert.ok(mail!.headerLines.some((h) => h.line === 'List-Unsubscribe: <https://bazaar.test/unsub>'));
      }));

    it('when the same idempotency key is sent again, then the Message-ID is the same', () =>
      withMailer(async (mailer, received) => {
        const key = 'event:0190f5d2-7b1c-7a00-8000-000000000042';
        const first = await mailer.send({ ...BASE, idempotencyKey: key });
        const again = await mailer.send({ ...BASE, idempotencyKey: key });
        const other = await mailer.send({ ...BASE, idempotencyKey: `${key}-2` });
        assert.equal(again.messageId, first.messageId);
        assert.notEqual(other.messageId, first.messageId);
        const ids = (await parsedAll(received)).map((m) => m.messageId);
        const expected = subject.deliversOncePerKey
          ? [first.messageId, other.messageId]
          : [first.messageId, first.messageId, other.messageId];
        assert.deepEqual(ids, expected);
      }));

    it('when messages have no idempotency key, then each gets its own Message-ID', () =>
      withMailer(async (mailer) => {
        const a = await mailer.send(BASE);
        const b = await mailer.send(BASE);
        assert.notEqual(a.messageId, b.messageId);
      }));

    it('when 10 messages are sent concurrently, then 10 arrive, each intact', () =>
      withMailer(async (mailer, received) => {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            mailer.send({
              ...BASE,
              to: `u${i}@example.com`,
              subject: `n${i}`,
              text: `t${i}`,
              html: `<i>${i}</i>`,
            }),
          ),
        );
        const got = (await parsedAll(received)).map(
          (m) => `${addresses(m.to)[0]} ${m.subject} ${m.text?.trim()} ${m.html}`,
        );
        const want = Array.from({ length: 10 }, (_, i) => `u${i}@example.com n${i} t${i} <i>${i}</i>`);
        assert.deepEqual(got.sort(), want.sort());
      }));

    const invalid: [string, MailMessage][] = [
      ['no recipient', { ...BASE, to: [] }],
      ['a recipient that is not an address', { ...BASE, to: 'ann at example' }],
      ['two addresses in one recipient', { ...BASE, to: 'a@example.com, b@example.com' }],
      ['a recipient with a line break', { ...BASE, to: 'a@example.com\r\nBcc: x@evil.example' }],
      ['a sender that is not an address', { ...BASE, from: 'nobody' }],
      ['an empty subject', { ...BASE, subject: '  ' }],
      ['a subject with a line break', { ...BASE, subject: 'Hi\r\nBcc: x@evil.example' }],
      ['an empty text part', { ...BASE, text: '' }],
      ['an empty HTML part', { ...BASE, html: '' }],
      ['a header that overrides the sender', { ...BASE, headers: { From: 'x@evil.example' } }],
      ['a header with a line break', { ...BASE, headers: { 'X-Note': 'a\r\nBcc: x@evil.example' } }],
      ['a header name with a space', { ...BASE, headers: { 'X Note': 'a' } }],
      ['an idempotency key with a space', { ...BASE, idempotencyKey: 'a b' }],
      ['51 recipients', { ...BASE, to: Array.from({ length: 51 }, (_, i) => `u${i}@example.com`) }],
    ];
    for (const [what, message] of invalid) {
      it(`when a message has ${what}, then send throws INVALID_INPUT and nothing is sent`, () =>
        withMailer(async (mailer, received) => {
          await assert.rejects(mailer.send(message), (err: unknown) => {
            assert.ok(err instanceof AppError);
            assert.equal(err.code, 'INVALID_INPUT');
            assert.match(err.message, /^invalid mail message: /);
            return true;
          });
          assert.deepEqual(await received(), []);
        }));
    }

    it('when the mailer is closed, then send is refused as UNAVAILABLE and close may be called again', () =>
      withMailer(async (mailer, received) => {
        const inFlight = mailer.send(BASE);
        await mailer.close();
        await inFlight; // close waited for it
        await assert.rejects(
          mailer.send(BASE),
          (err: unknown) => err instanceof AppError && err.code === 'UNAVAILABLE',
        );
        await mailer.close();
        assert.equal((await received()).length, 1);
      }));
  });
}
