/**
 * Shared by the mail adapters: the checks `Mailer.send` promises (mail.ts), the Message-ID rule
 * (stable for an idempotency key), and the nodemailer message both nodemailer-based adapters
 * (file, smtp) hand to their transport, so every adapter produces the same RFC 5322 message.
 */
import { createHash } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import { AppError } from '../../shared/errors.ts';
import { uuidv7 } from '../../shared/ids.ts';
import type { MailMessage } from './mail.ts';

export const MAX_RECIPIENTS = 50;
const MAX_SUBJECT = 250;
const MAX_PART_BYTES = 1024 * 1024;
const MAX_KEY = 200;

/** Set by the port itself; callers may not override them through `headers`. */
const RESERVED_HEADERS = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'return-path',
  'received',
]);

export type Mailbox = Readonly<{ name: string; address: string }>;

export type ValidMessage = Readonly<{
  from: Mailbox;
  to: readonly Mailbox[];
  subject: string;
  text: string;
  html: string;
  headers: Readonly<Record<string, string>>;
  messageId: string;
  date: Date;
}>;

// Deliberately simple: one @, no spaces or specials, a dotted domain. Deliverability is the
// receiving server's call; this only keeps garbage and header injection out.
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/u;
const CONTROL = /\p{Cc}/u;
const HEADER_NAME = /^[!-9;-~]{1,76}$/;

/** One mailbox from `Name <a@b.example>` or `a@b.example`, or why not. */
export function parseMailbox(raw: string): Mailbox | string {
  if (CONTROL.test(raw)) return 'contains a control character (line break?)';
  const parsed = addressparser(raw);
  if (parsed.length !== 1) return 'must be exactly one address';
  const [one] = parsed;
  if (!one || one.group !== undefined) return 'must be one address, not a group';
  if (!ADDRESS.test(one.address)) return 'is not an email address such as ann@example.com';
  return { name: one.name, address: one.address };
}

/** Checks a message against the port's rules; throws AppError INVALID_INPUT listing every problem. */
export function validateMessage(
  message: MailMessage,
  defaults: Readonly<{ from: string; now: number }>,
): ValidMessage {
  const problems: string[] = [];
  const mailbox = (field: string, raw: unknown): Mailbox | undefined => {
    if (typeof raw !== 'string') {
      problems.push(`${field} must be a string`);
      return undefined;
    }
    const r = parseMailbox(raw);
    if (typeof r === 'string') problems.push(`${field} ${JSON.stringify(raw)} ${r}`);
    return typeof r === 'string' ? undefined : r;
  };

  const from = mailbox('from', message.from ?? defaults.from);
  const rawTo: readonly unknown[] = Array.isArray(message.to) ? message.to : [message.to];
  if (rawTo.length === 0) problems.push('to must name at least one recipient');
  if (rawTo.length > MAX_RECIPIENTS)
    problems.push(`to has ${rawTo.length} recipients; at most ${MAX_RECIPIENTS}`);
  const to = rawTo.map((r, i) => mailbox(`to[${i}]`, r));

  const subject = typeof message.subject === 'string' ? message.subject.trim() : '';
  if (subject === '') problems.push('subject is empty');
  else if (CONTROL.test(subject)) problems.push('subject contains a control character (line break?)');
  else if (subject.length > MAX_SUBJECT) problems.push(`subject is longer than ${MAX_SUBJECT} characters`);

  for (const part of ['text', 'html'] as const) {
    const value: unknown = message[part];
    if (typeof value !== 'string' || value.trim() === '') problems.push(`${part} part is empty`);
    else if (Buffer.byteLength(value) > MAX_PART_BYTES) problems.push(`${part} part is larger than 1 MiB`);
  }

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name))
      problems.push(`header name ${JSON.stringify(name)} is not a valid field name`);
    else if (RESERVED_HEADERS.has(lower) || lower.startsWith('content-')) {
      problems.push(`header ${name} is set by the mail port and cannot be overridden`);
    } else if (typeof value !== 'string' || CONTROL.test(value) || value.length > 998) {
      problems.push(`header ${name} must be one line of at most 998 characters`);
    } else headers[name] = value;
  }

  const key = message.idempotencyKey;
  if (key !== undefined && !(typeof key === 'string' && /^[!-~]{1,200}$/.test(key))) {
    problems.push(`idempotencyKey must be 1–${MAX_KEY} printable ASCII characters without spaces`);
  }

  if (problems.length > 0 || !from || to.some((t) => t === undefined)) {
    throw new AppError('INVALID_INPUT', `invalid mail message: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return {
    from,
    to: to as Mailbox[],
    subject,
    text: message.text,
    html: message.html,
    headers,
    messageId: messageIdFor(from.address, key, defaults.now),
    date: new Date(defaults.now),
  };
}

/**
 * `<id@sender-domain>`: from the idempotency key when given (so a retry carries the same id),
 * else a fresh UUIDv7.
 */
export function messageIdFor(fromAddress: string, key: string | undefined, now: number): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
  const left = key ? createHash('sha256').update(key).digest('hex').slice(0, 40) : uuidv7(now);
  return `<${left}@${domain}>`;
}

/**
 * Refuses sends after `close` and lets `close` wait for the sends in flight, so a shutting-down
 * worker never cuts a message in half.
 */
export function inFlightGuard(what: string) {
  let closed = false;
  const pending = new Set<Promise<unknown>>();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new AppError('UNAVAILABLE', `${what} is closed`));
      const p = fn();
      pending.add(p);
      const forget = () => pending.delete(p);
      p.then(forget, forget);
      return p;
    },
    async close(): Promise<boolean> {
      const first = !closed;
      closed = true;
      await Promise.allSettled([...pending]);
      return first;
    },
  };
}

/** The message as nodemailer's `sendMail` takes it; identical for every nodemailer transport. */
export function toNodemailer(m: ValidMessage) {
  return {
    from: m.from,
    to: [...m.to],
    subject: m.subject,
    text: m.text,
    html: m.html,
    headers: { ...m.headers },
    messageId: m.messageId,
    date: m.date,
    xMailer: false as const,
  };
}
