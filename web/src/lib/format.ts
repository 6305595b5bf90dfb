/** Display helpers: money from minor units, dates, stock wording. */

const formatters = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string): Intl.NumberFormat {
  let f = formatters.get(currency);
  if (!f) {
    f = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    formatters.set(currency, f);
  }
  return f;
}

/** 12345 USD → "$123.45" in the reader's locale (minor units per the currency's digits). */
export function formatMoney(minor: number, currency = 'USD'): string {
  const f = currencyFormat(currency);
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  return f.format(minor / 10 ** digits);
}

/** "12.5" or "12" (dollars) → 1250 or 1200 minor units; null when it is not a price. */
export function parseMoney(text: string): number | null {
  const m = /^\s*\$?\s*(\d{1,6})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0'));
}

/** 1250 → "12.50", for editing a price in a form. */
export function minorToInput(minor: number): string {
  return (minor / 100).toFixed(2);
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function formatDate(iso: string): string {
  return dateFormat.format(new Date(iso));
}

export function stockText(stock: number): string {
  if (stock <= 0) return 'Sold out';
  if (stock <= 5) return `${stock} left`;
  return 'In stock';
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
