/**
 * SMTP mail adapter: nodemailer's pooled SMTP transport to one relay given as a URL
 * (`smtp://user:pass@host:587` upgrades with STARTTLS when the server offers it;
 * `smtps://…:465` is TLS from the first byte). A few connections are kept open and reused
 * while messages flow. Every failure becomes an AppError UNAVAILABLE whose message names the
 * server, the SMTP step and the server's reply, never the credentials; `details.permanent` tells
 * a 5xx refusal (retrying the same message gets the same answer) from a transient failure.
 */
import { createTransport, type NodemailerError } from 'nodemailer';
import { AppError } from '../../../shared/errors.ts';
import type { Mailer, MailMessage, SentMail } from '../mail.ts';
import { inFlightGuard, toNodemailer, validateMessage } from '../message.ts';

export type SmtpMailerOptions = Readonly<{
  /** `smtp://[user:pass@]host[:port]` (port 587 by default) or `smtps://…` (465). */
  url: string;
  /** Sender when a message names none (`MAIL_FROM`). */
  from: string;
  /** Limit for connecting, the greeting and each reply; 15 s by default. */
  timeoutMs?: number;
  now?: () => number;
}>;

export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const { from, timeoutMs = 15_000, now = Date.now } = options;
  const url = new URL(options.url);
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port ? Number(url.port) : secure ? 465 : 587;
  const server = `${url.hostname}:${port}`;
  const transport = createTransport({
    pool: true,
    maxConnections: 3,
    host,
    port,
    secure,
    ...(url.username
      ? { auth: { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } }
      : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  const guard = inFlightGuard(`SMTP mailer for ${server}`);

  async function send(message: MailMessage): Promise<SentMail> {
    const m = validateMessage(message, { from, now: now() });
    try {
      const info = await transport.sendMail(toNodemailer(m));
      return { messageId: m.messageId, refused: info.rejected.map(String) };
    } catch (err) {
      throw smtpError(server, err as NodemailerError);
    }
  }

  return {
    send: (message) => guard.run(() => send(message)),
    async close() {
      if (await guard.close()) transport.close();
    },
  };
}

function smtpError(server: string, err: NodemailerError): AppError {
  const step = err.command ? ` at ${err.command}` : '';
  const reply = err.response ?? err.message;
  const what =
    err.code === 'EAUTH' || err.code === 'ENOAUTH'
      ? 'refused the credentials'
      : err.responseCode !== undefined
        ? 'refused the message'
        : 'could not be reached or dropped the connection';
  return new AppError(
    'UNAVAILABLE',
    `SMTP server ${server} ${what}${step}: ${reply}${err.code ? ` (${err.code})` : ''}`,
    {
      cause: err,
      details: {
        smtpCode: err.code,
        responseCode: err.responseCode,
        permanent: err.permanent === true,
        ...(err.rejected ? { refused: err.rejected } : {}),
      },
    },
  );
}
