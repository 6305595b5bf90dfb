import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailbox } from '../../platform/mail/message.ts';
import {
  formatMoney,
  mailboxOf,
  orderConfirmationMessage,
  orderShippedMessage,
  type RenderedMail,
  sellerNewOrderMessage,
  welcomeMessage,
} from './index.ts';

const HOSTILE = '<script>alert(1)</script> & "x"';
const ESCAPED = '&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;';
const ORDER = '0190f5d2-7b1c-7a00-8000-000000000042';
const ANN = { name: 'Ann Buyer', email: 'ann@example.com' };
const SAM = { name: 'Sam Seller', email: 'sam@example.com' };
const LINES = [
  { title: 'Speckled mug', quantity: 2, priceMinor: 2400 },
  { title: 'Tea towel', quantity: 1, priceMinor: 550 },
];

/** Every template, fed the same value as every name and title. */
const everyTemplate = (value: string): [string, RenderedMail][] => [
  ['welcome', welcomeMessage({ name: value, email: 'ann@example.com', role: 'buyer' })],
  [
    'order confirmation',
    orderConfirmationMessage({
      orderId: ORDER,
      buyer: { ...ANN, name: value },
      lines: [{ ...LINES[0]!, title: value }],
      totalMinor: 4800,
      currency: 'EUR',
    }),
  ],
  [
    'new order for the seller',
    sellerNewOrderMessage({
      orderId: ORDER,
      seller: { ...SAM, name: value },
      lines: [{ ...LINES[0]!, title: value }],
      currency: 'EUR',
    }),
  ],
  [
    'shipped',
    orderShippedMessage({
      orderId: ORDER,
      buyer: { ...ANN, name: value },
      lines: [{ title: value, quantity: 1 }],
    }),
  ],
];

describe('notification templates', () => {
  for (const [name, mail] of everyTemplate(HOSTILE)) {
    it(`when a name or title holds markup, then the ${name} HTML escapes it and the text keeps it readable`, () => {
      assert.ok(mail.html.startsWith('<!doctype html>'));
      assert.doesNotMatch(mail.html, /<script>|"x"/);
      assert.ok(mail.html.includes(ESCAPED), mail.html);
      assert.ok(mail.text.includes(HOSTILE), mail.text);
      assert.ok(mail.subject.trim() !== '' && mail.text.trim() !== '');
    });
  }

  for (const [name, mail] of everyTemplate('Ann\r\nBcc: evil@example.com')) {
    it(`when a name holds a line break, then the ${name} subject and text stay one line per field`, () => {
      assert.doesNotMatch(mail.subject, /[\r\n]/);
      assert.doesNotMatch(mail.text, /^Bcc:/m);
    });
  }

  it('when a buyer signs up, then the welcome greets them by name and says what a buyer can do', () => {
    const mail = welcomeMessage({ name: 'Ann Buyer', email: 'ann@example.com', role: 'buyer' });
    assert.equal(mail.subject, 'Welcome to Bazaar, Ann Buyer');
    assert.match(mail.text, /^Hello Ann Buyer,\n/);
    assert.match(mail.text, /Your buyer account for ann@example\.com is ready\./);
    assert.match(mail.text, /fill your cart/);
    assert.match(mail.html, /<strong>ann@example\.com<\/strong>/);
  });

  it('when a seller signs up, then the welcome says how to list a product', () => {
    const mail = welcomeMessage({ name: 'Sam', email: 'sam@example.com', role: 'seller' });
    assert.match(mail.text, /Your seller account/);
    assert.match(mail.text, /List your first product/);
    assert.match(mail.html, /List your first product/);
  });

  it('when a very long name signs up, then the subject stays short', () => {
    const mail = welcomeMessage({ name: 'N'.repeat(500), email: 'n@example.com', role: 'buyer' });
    assert.ok(mail.subject.length <= 80, mail.subject);
    assert.ok(mail.text.includes('N'.repeat(500)));
  });

  it('when an order is placed, then the buyer confirmation lists each line, its amount and the total', () => {
    const mail = orderConfirmationMessage({
      orderId: ORDER,
      buyer: ANN,
      lines: LINES,
      totalMinor: 5350,
      currency: 'EUR',
    });
    assert.equal(mail.subject, `Your Bazaar order ${ORDER}`);
    assert.match(mail.text, /^ {2}2 × Speckled mug at €24\.00 = €48\.00$/m);
    assert.match(mail.text, /^ {2}1 × Tea towel at €5\.50 = €5\.50$/m);
    assert.match(mail.text, /^Total: €53\.50$/m);
    assert.match(
      mail.html,
      /<td>Speckled mug<\/td><td align="right">2<\/td><td align="right">€24\.00<\/td><td align="right">€48\.00<\/td>/,
    );
    assert.match(mail.html, /Total<\/th><th align="right">€53\.50<\/th>/);
  });

  it("when an order is placed, then the seller's notice counts their items and sums only their lines", () => {
    const mail = sellerNewOrderMessage({ orderId: ORDER, seller: SAM, lines: LINES, currency: 'USD' });
    assert.equal(mail.subject, `New order ${ORDER}: 3 items to ship`);
    assert.match(mail.text, /^Hello Sam Seller,$/m);
    assert.match(mail.text, /^Your subtotal: \$53\.50$/m);
    assert.match(mail.html, /Your subtotal<\/th><th align="right">\$53\.50<\/th>/);
    const one = sellerNewOrderMessage({ orderId: ORDER, seller: SAM, lines: [LINES[1]!], currency: 'USD' });
    assert.equal(one.subject, `New order ${ORDER}: 1 item to ship`);
    assert.doesNotMatch(one.text, /Speckled mug/);
  });

  it('when an order ships, then the buyer is told which items are on their way', () => {
    const mail = orderShippedMessage({ orderId: ORDER, buyer: ANN, lines: LINES });
    assert.equal(mail.subject, `Your Bazaar order ${ORDER} has shipped`);
    assert.match(mail.text, /^ {2}2 × Speckled mug$/m);
    assert.match(mail.html, /<li>1 × Tea towel<\/li>/);
  });

  it('when money is formatted, then minor units follow the currency’s own decimals', () => {
    assert.equal(formatMoney(123456, 'EUR'), '€1,234.56');
    assert.equal(formatMoney(5, 'USD'), '$0.05');
    assert.equal(formatMoney(0, 'GBP'), '£0.00');
    assert.equal(formatMoney(500, 'JPY'), '¥500');
    assert.match(formatMoney(1234, 'KWD'), /^KWD\s1\.234$/); // ICU puts a no-break space there
  });

  it('when a recipient is built from a person, then any name gives exactly that one mailbox', () => {
    for (const name of [
      'Ann Buyer',
      'Doe, Ann',
      'Ann "the buyer"',
      'Ann\r\nBcc: evil@example.com',
      HOSTILE,
      '',
    ]) {
      const parsed = parseMailbox(mailboxOf({ name, email: 'ann@example.com' }));
      assert.equal(typeof parsed === 'string' ? parsed : parsed.address, 'ann@example.com', name);
    }
  });
});
