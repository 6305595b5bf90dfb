/**
 * The messages Bazaar sends, as pure functions from plain data to `{subject, text, html}`:
 * no database, no I/O, so consumers (jobs reacting to events) build a message and hand it to
 * the mail port with the event id as idempotency key.
 *
 * Safety rules, kept by construction: the HTML part is built only with the `html` tag below,
 * which escapes every interpolated value; names and titles are flattened to one line in
 * subjects and text (a name cannot forge a header or a fake line). Money is minor units plus an
 * ISO 4217 currency, formatted with Intl.NumberFormat (en-US).
 */
import type { Role } from '../../shared/actor.ts';

export type RenderedMail = Readonly<{ subject: string; text: string; html: string }>;
export type Person = Readonly<{ name: string; email: string }>;
export type PricedLine = Readonly<{ title: string; quantity: number; priceMinor: number }>;

export type WelcomeInput = Readonly<{ name: string; email: string; role: Role }>;
export type OrderConfirmationInput = Readonly<{
  orderId: string;
  buyer: Person;
  lines: readonly PricedLine[];
  totalMinor: number;
  currency: string;
}>;
export type SellerNewOrderInput = Readonly<{
  orderId: string;
  seller: Person;
  /** Only this seller's lines of the order; the subtotal is their sum. */
  lines: readonly PricedLine[];
  currency: string;
}>;
export type OrderShippedInput = Readonly<{
  orderId: string;
  buyer: Person;
  lines: readonly Readonly<{ title: string; quantity: number }>[];
}>;

const WELCOME_NEXT: Record<Role, string> = {
  buyer: 'Browse the catalog, fill your cart and check out whenever you like.',
  seller: 'List your first product: it appears in the catalog as soon as you publish it.',
  admin: 'You have administrator access.',
};

/** To a new account, right after sign-up. */
export function welcomeMessage(input: WelcomeInput): RenderedMail {
  const name = oneLine(input.name);
  return {
    subject: `Welcome to Bazaar, ${short(name)}`,
    text: lines(
      `Hello ${name},`,
      '',
      `Your ${input.role} account for ${input.email} is ready.`,
      WELCOME_NEXT[input.role],
      '',
      '— Bazaar',
    ),
    html: page(html`
      <p>Hello ${input.name},</p>
      <p>Your ${input.role} account for <strong>${input.email}</strong> is ready.</p>
      <p>${WELCOME_NEXT[input.role]}</p>
      <p>— Bazaar</p>`),
  };
}

/** To the buyer, once the order is placed. */
export function orderConfirmationMessage(input: OrderConfirmationInput): RenderedMail {
  const { orderId, buyer, currency } = input;
  const total = formatMoney(input.totalMinor, currency);
  return {
    subject: `Your Bazaar order ${oneLine(orderId)}`,
    text: lines(
      `Hello ${oneLine(buyer.name)},`,
      '',
      `Thank you for your order ${orderId}.`,
      '',
      ...textLines(input.lines, currency),
      '',
      `Total: ${total}`,
      '',
      'We will write again when it ships.',
      '— Bazaar',
    ),
    html: page(html`
      <p>Hello ${buyer.name},</p>
      <p>Thank you for your order <strong>${orderId}</strong>.</p>
      ${htmlTable(input.lines, currency, html`<th colspan="3" align="left">Total</th><th align="right">${total}</th>`)}
      <p>We will write again when it ships.</p>
      <p>— Bazaar</p>`),
  };
}

/** To each seller with lines in a new order, listing only that seller's lines. */
export function sellerNewOrderMessage(input: SellerNewOrderInput): RenderedMail {
  const { orderId, seller, currency } = input;
  const items = input.lines.reduce((n, l) => n + l.quantity, 0);
  const subtotal = formatMoney(
    input.lines.reduce((sum, l) => sum + l.quantity * l.priceMinor, 0),
    currency,
  );
  const count = `${items} ${items === 1 ? 'item' : 'items'}`;
  return {
    subject: `New order ${oneLine(orderId)}: ${count} to ship`,
    text: lines(
      `Hello ${oneLine(seller.name)},`,
      '',
      `A buyer ordered ${count} from you in order ${orderId}:`,
      '',
      ...textLines(input.lines, currency),
      '',
      `Your subtotal: ${subtotal}`,
      '',
      'Mark the order as shipped in your seller orders once it is on its way.',
      '— Bazaar',
    ),
    html: page(html`
      <p>Hello ${seller.name},</p>
      <p>A buyer ordered ${count} from you in order <strong>${orderId}</strong>:</p>
      ${htmlTable(input.lines, currency, html`<th colspan="3" align="left">Your subtotal</th><th align="right">${subtotal}</th>`)}
      <p>Mark the order as shipped in your seller orders once it is on its way.</p>
      <p>— Bazaar</p>`),
  };
}

/** To the buyer, when a seller marks the order shipped. */
export function orderShippedMessage(input: OrderShippedInput): RenderedMail {
  const { orderId, buyer } = input;
  return {
    subject: `Your Bazaar order ${oneLine(orderId)} has shipped`,
    text: lines(
      `Hello ${oneLine(buyer.name)},`,
      '',
      `Your order ${orderId} is on its way:`,
      '',
      ...input.lines.map((l) => `  ${l.quantity} × ${oneLine(l.title)}`),
      '',
      '— Bazaar',
    ),
    html: page(html`
      <p>Hello ${buyer.name},</p>
      <p>Your order <strong>${orderId}</strong> is on its way:</p>
      <ul>${input.lines.map((l) => html`<li>${l.quantity} × ${l.title}</li>`)}</ul>
      <p>— Bazaar</p>`),
  };
}

/** `"Name" <email>` for the mail port's `to`, safe whatever the name contains. */
export function mailboxOf(person: Person): string {
  const name = oneLine(person.name).replace(/["\\]/g, '');
  return name ? `"${name}" <${person.email}>` : person.email;
}

const formatters = new Map<string, Intl.NumberFormat>();

/** Minor units in a currency, e.g. (123456, 'EUR') → "€1,234.56", (500, 'JPY') → "¥500". */
export function formatMoney(minor: number, currency: string): string {
  let f = formatters.get(currency);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    formatters.set(currency, f);
  }
  return f.format(minor / 10 ** (f.resolvedOptions().maximumFractionDigits ?? 2));
}

/** HTML that is already safe; only the `html` tag makes one. */
class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const render = (v: unknown): string =>
  v instanceof Html ? v.value : Array.isArray(v) ? v.map(render).join('') : escapeHtml(String(v));

/** Tagged template: literal parts are trusted markup, every `${value}` is escaped (unless Html). */
function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return new Html(strings.reduce((out, s, i) => out + render(values[i - 1]) + s));
}

function page(body: Html): string {
  return html`<!doctype html>
<html><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #222">${body}
</body></html>`.value;
}

function htmlTable(items: readonly PricedLine[], currency: string, footer: Html): Html {
  return html`
      <table cellpadding="4" style="border-collapse: collapse">
        <tr><th align="left">Item</th><th align="right">Qty</th><th align="right">Price</th><th align="right">Amount</th></tr>
        ${items.map(
          (l) =>
            html`<tr><td>${l.title}</td><td align="right">${l.quantity}</td><td align="right">${formatMoney(l.priceMinor, currency)}</td><td align="right">${formatMoney(l.quantity * l.priceMinor, currency)}</td></tr>`,
        )}
        <tr>${footer}</tr>
      </table>`;
}

function textLines(items: readonly PricedLine[], currency: string): string[] {
  return items.map(
    (l) =>
      `  ${l.quantity} × ${oneLine(l.title)} at ${formatMoney(l.priceMinor, currency)} = ${formatMoney(l.quantity * l.priceMinor, currency)}`,
  );
}

/** Control characters and runs of whitespace become one space. */
const oneLine = (s: string): string => s.replace(/[\s\p{Cc}]+/gu, ' ').trim();

const short = (s: string, max = 60): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

const lines = (...l: string[]): string => `${l.join('\n')}\n`;
