/**
 * File mail adapter (solo): each message becomes a real RFC 5322 `.eml` file (CRLF line ends,
 * multipart/alternative text + HTML, built by nodemailer's stream transport, so it opens in any
 * mail client and is byte-for-byte what SMTP would carry) under one directory, plus one log
 * line naming the file. Names are `<UTC time>-<UUIDv7>.eml`: they sort by time and never
 * collide. A file appears complete or not at all (written aside, then renamed).
 *
 * Limits: nothing leaves the machine; files are never deleted (clean the directory yourself);
 * the directory is local disk, so like PGlite it belongs to one machine, not a web fleet.
 * An idempotency key is remembered as a marker file in `.sent/`, so a retried send writes no
 * second file; a crash between the message file and its marker can still leave a duplicate.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type StreamTransport from 'nodemailer/lib/stream-transport';
import { AppError } from '../../../shared/errors.ts';
import { uuidv7 } from '../../../shared/ids.ts';
import type { Mailer, MailMessage, SentMail } from '../mail.ts';
import { inFlightGuard, toNodemailer, validateMessage } from '../message.ts';

type StreamTransportInfo = StreamTransport.SentMessageInfo;

/** pino-compatible: `(fields, message)`, e.g. `logger.info.bind(logger)`. */
export type MailLog = (fields: Record<string, unknown>, message: string) => void;

export type FileMailerOptions = Readonly<{
  /** Where `.eml` files go (created on first send), e.g. `DATA_DIR/mail`. */
  dir: string;
  /** Sender when a message names none (`MAIL_FROM`). */
  from: string;
  log: MailLog;
  now?: () => number;
}>;

export function createFileMailer(options: FileMailerOptions): Mailer {
  const { dir, from, log, now = Date.now } = options;
  const markers = join(dir, '.sent');
  // nodemailer is loaded at the first send: a process that sends no mail never loads it.
  type Composer = ReturnType<typeof import('nodemailer').createTransport<StreamTransportInfo>>;
  let transport: Composer | undefined;
  const composer = async (): Promise<Composer> => {
    transport ??= (await import('nodemailer')).createTransport({
      streamTransport: true,
      buffer: true,
      newline: 'windows',
    });
    return transport;
  };
  const guard = inFlightGuard('file mailer');

  async function send(message: MailMessage): Promise<SentMail> {
    const m = validateMessage(message, { from, now: now() });
    const sent: SentMail = { messageId: m.messageId, refused: [] };
    const marker = message.idempotencyKey
      ? join(markers, createHash('sha256').update(m.messageId).digest('hex'))
      : undefined;
    try {
      if (marker && (await exists(marker))) return sent;
      const { message: eml } = await (await composer()).sendMail(toNodemailer(m));
      const name = `${m.date.toISOString().replace(/[-:]/g, '')}-${uuidv7(m.date.getTime())}.eml`;
      const file = join(dir, name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `.${name}.tmp`), eml);
      await rename(join(dir, `.${name}.tmp`), file);
      if (marker) {
        await mkdir(markers, { recursive: true });
        try {
          await writeFile(marker, name, { flag: 'wx' });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          await rm(file, { force: true }); // a concurrent send with the same key won
          return sent;
        }
      }
      log(
        { messageId: m.messageId, to: m.to.map((t) => t.address), subject: m.subject, file },
        'mail written to file',
      );
      return sent;
    } catch (err) {
      throw new AppError('UNAVAILABLE', `cannot write mail file under ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  return {
    send: (message) => guard.run(() => send(message)),
    async close() {
      if (await guard.close()) transport?.close();
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
