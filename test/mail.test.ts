/**
 * The mail port's contract on the file adapter and on the SMTP adapter (against a real SMTP
 * server, smtp-server on 127.0.0.1 and an ephemeral port), then what only one adapter does:
 * file names and logs, credentials, refusals, unreachable servers, configuration.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import { ConfigError, loadConfig } from '../src/config/config.ts';
import { createFileMailer, type MailLog } from '../src/platform/mail/file/file-mailer.ts';
import { mailContract, type ReceivedMail } from '../src/platform/mail/mail.contract.ts';
import type { MailMessage } from '../src/platform/mail/mail.ts';
import { createSmtpMailer } from '../src/platform/mail/smtp/smtp-mailer.ts';
import { createPlatform } from '../src/platform/platform.ts';
import { AppError } from '../src/shared/errors.ts';
import { refusal, startSmtp } from './support/smtp.ts';

const MESSAGE: MailMessage = {
  to: 'ann@example.com',
  subject: 'Hello',
  text: 'Hello Ann',
  html: '<p>Hello Ann</p>',
};
const FROM = 'Bazaar <no-reply@bazaar.test>';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'bazaar-mail-'));
}

async function emlFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.eml')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function readEml(dir: string): Promise<ReceivedMail[]> {
  return Promise.all(
    (await emlFiles(dir)).map(async (f) => {
      const raw = await readFile(join(dir, f));
      const { to } = await simpleParser(raw);
      const recipients = (Array.isArray(to) ? to : to ? [to] : []).flatMap((a) =>
        a.value.map((v) => v.address ?? ''),
      );
      return { raw, recipients };
    }),
  );
}

const AUTH = { user: 'bazaar-mailer', pass: 'pa:ss w@rd/1' };

mailContract({
  name: 'file',
  skip: undefined,
  deliversOncePerKey: true,
  async setup({ from }) {
    const dir = join(await tempDir(), 'mail');
    return {
      mailer: createFileMailer({ dir, from, log: () => {} }),
      received: () => readEml(dir),
      teardown: () => rm(join(dir, '..'), { recursive: true, force: true }),
    };
  },
});

mailContract({
  name: 'smtp (smtp-server on 127.0.0.1, with AUTH)',
  skip: undefined,
  deliversOncePerKey: false,
  async setup({ from }) {
    const smtp = await startSmtp({ auth: AUTH });
    return {
      mailer: createSmtpMailer({ url: smtp.url, from, timeoutMs: 5000 }),
      received: async () => [...smtp.received],
      teardown: smtp.close,
    };
  },
});

describe('file mail adapter', () => {
  it('when messages are written, then file names sort in sending order, are unique, and each send logs its file', async () => {
    const root = await tempDir();
    const dir = join(root, 'mail');
    const lines: Parameters<MailLog>[] = [];
    let t = Date.UTC(2030, 0, 1, 12, 0, 0);
    const mailer = createFileMailer({ dir, from: FROM, log: (...a) => lines.push(a), now: () => t });
    try {
      const ids: string[] = [];
      for (const step of [0, 0, 0, 1, 999, 60_000, 0]) {
        t += step;
        ids.push((await mailer.send({ ...MESSAGE, subject: `n${ids.length}` })).messageId);
      }
      const files = await emlFiles(dir);
      assert.equal(files.length, 7);
      assert.equal(new Set(files).size, 7);
      assert.match(files[0]!, /^20300101T120000\.000Z-[0-9a-f-]{36}\.eml$/);
      const subjects = await Promise.all(
        files.map(async (f) => (await simpleParser(await readFile(join(dir, f)))).subject),
      );
      assert.deepEqual(subjects, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
      assert.equal(lines.length, 7);
      const [fields, msg] = lines[0]!;
      assert.equal(msg, 'mail written to file');
      assert.deepEqual(fields, {
        messageId: ids[0],
        to: ['ann@example.com'],
        subject: 'n0',
        file: join(dir, files[0]!),
      });
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.endsWith('.tmp')),
        [],
        'no temporary files left behind',
      );
    } finally {
      await mailer.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('when the same idempotency key is sent 10 times concurrently, then exactly one file is written and logged', async () => {
    const root = await tempDir();
    const dir = join(root, 'mail');
    let logged = 0;
    const mailer = createFileMailer({ dir, from: FROM, log: () => logged++ });
    try {
      const sent = await Promise.all(
        Array.from({ length: 10 }, () => mailer.send({ ...MESSAGE, idempotencyKey: 'event-1' })),
      );
      assert.equal(new Set(sent.map((s) => s.messageId)).size, 1);
      assert.equal((await emlFiles(dir)).length, 1);
      assert.equal(logged, 1);
    } finally {
      await mailer.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('when the directory cannot be created, then send throws UNAVAILABLE naming the directory', async () => {
    const root = await tempDir();
    const blocker = join(root, 'not-a-dir');
    await writeFile(blocker, 'a file where the mail directory should be');
    const mailer = createFileMailer({ dir: join(blocker, 'mail'), from: FROM, log: () => {} });
    try {
      await assert.rejects(mailer.send(MESSAGE), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(err.message, /^cannot write mail file under .*not-a-dir\/mail: /);
        return true;
      });
    } finally {
      await mailer.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('SMTP mail adapter', () => {
  it('when the server requires AUTH, then the configured credentials are presented and checked', async () => {
    const smtp = await startSmtp({ auth: AUTH });
    const mailer = createSmtpMailer({ url: smtp.url, from: FROM, timeoutMs: 5000 });
    try {
      await mailer.send(MESSAGE);
      assert.deepEqual(smtp.logins, [{ username: AUTH.user, password: AUTH.pass, ok: true }]);
      assert.equal(smtp.received.length, 1);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when the password is wrong, then send throws UNAVAILABLE saying the credentials were refused, without the password', async () => {
    const smtp = await startSmtp({ auth: AUTH });
    const url = smtp.url.replace(encodeURIComponent(AUTH.pass), 'wrong-secret');
    const mailer = createSmtpMailer({ url, from: FROM, timeoutMs: 5000 });
    try {
      await assert.rejects(mailer.send(MESSAGE), (err: unknown) => {
        assert.ok(err instanceof AppError);
        assert.equal(err.code, 'UNAVAILABLE');
        assert.match(
          err.message,
          new RegExp(`^SMTP server 127\\.0\\.0\\.1:${smtp.port} refused the credentials`),
        );
        assert.match(err.message, /535/);
        assert.doesNotMatch(err.message, /wrong-secret/);
        return true;
      });
      assert.deepEqual(
        smtp.logins.map((l) => l.ok),
        [false],
      );
      assert.equal(smtp.received.length, 0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when no credentials are configured but the server requires them, then send throws UNAVAILABLE with the reply', async () => {
    const smtp = await startSmtp({ auth: AUTH });
    const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${smtp.port}`, from: FROM, timeoutMs: 5000 });
    try {
      await assert.rejects(mailer.send(MESSAGE), (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'UNAVAILABLE');
        assert.match(err.message, /530/);
        return true;
      });
      assert.equal(smtp.received.length, 0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when the server refuses every recipient, then send throws UNAVAILABLE with the step and reply, marked permanent', async () => {
    const smtp = await startSmtp({ refuseRcpt: () => refusal(550, 'Mailbox unavailable') });
    const mailer = createSmtpMailer({ url: smtp.url, from: FROM, timeoutMs: 5000 });
    try {
      await assert.rejects(mailer.send(MESSAGE), (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'UNAVAILABLE');
        assert.match(err.message, /refused the message at RCPT TO: 550 Mailbox unavailable/);
        assert.equal(err.details?.['permanent'], true);
        return true;
      });
      assert.equal(smtp.received.length, 0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when the server refuses some recipients, then the others get the message and send reports the refused', async () => {
    const smtp = await startSmtp({
      refuseRcpt: (a) => (a === 'gone@example.com' ? refusal(550, 'No such user') : undefined),
    });
    const mailer = createSmtpMailer({ url: smtp.url, from: FROM, timeoutMs: 5000 });
    try {
      const sent = await mailer.send({ ...MESSAGE, to: ['ann@example.com', 'gone@example.com'] });
      assert.deepEqual(sent.refused, ['gone@example.com']);
      assert.deepEqual(
        smtp.received.map((r) => r.recipients),
        [['ann@example.com']],
      );
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when the server refuses the data for now (451), then send throws a transient UNAVAILABLE and a retry goes through', async () => {
    let refuseNext = true;
    const smtp = await startSmtp({
      refuseData: () => {
        if (!refuseNext) return undefined;
        refuseNext = false;
        return refusal(451, 'Try again later');
      },
    });
    const mailer = createSmtpMailer({ url: smtp.url, from: FROM, timeoutMs: 5000 });
    try {
      const message = { ...MESSAGE, idempotencyKey: 'event-451' };
      await assert.rejects(mailer.send(message), (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'UNAVAILABLE');
        assert.match(err.message, /refused the message at DATA: 451 Try again later/);
        assert.equal(err.details?.['permanent'], false);
        return true;
      });
      const retry = await mailer.send(message);
      assert.equal(smtp.received.length, 1);
      assert.equal((await simpleParser(smtp.received[0]!.raw)).messageId, retry.messageId);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  it('when nothing listens on the port, then send throws UNAVAILABLE saying the server could not be reached', async () => {
    const smtp = await startSmtp();
    await smtp.close();
    const mailer = createSmtpMailer({ url: smtp.url, from: FROM, timeoutMs: 5000 });
    try {
      await assert.rejects(mailer.send(MESSAGE), (err: unknown) => {
        assert.ok(err instanceof AppError && err.code === 'UNAVAILABLE');
        assert.match(
          err.message,
          new RegExp(`^SMTP server 127\\.0\\.0\\.1:${smtp.port} could not be reached`),
        );
        assert.match(err.message, /ECONNREFUSED|ECONNECTION|ESOCKET/);
        return true;
      });
    } finally {
      await mailer.close();
    }
  });
});

describe('mail configuration', () => {
  const problems = (env: Record<string, string>): readonly string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.problems;
    }
  };

  it('when nothing is set, then mail goes to files from the default sender', () => {
    const config = loadConfig({});
    assert.equal(config.mailTransport, 'file');
    assert.equal(config.smtpUrl, undefined);
    assert.equal(config.mailFrom, 'Bazaar <no-reply@bazaar.test>');
  });

  it('when SMTP is chosen with a URL and a sender, then they are taken as given', () => {
    const config = loadConfig({
      MAIL_TRANSPORT: 'smtp',
      SMTP_URL: 'smtps://u:p@smtp.example.com:465',
      MAIL_FROM: 'Shop <shop@example.com>',
    });
    assert.equal(config.mailTransport, 'smtp');
    assert.equal(config.smtpUrl, 'smtps://u:p@smtp.example.com:465');
    assert.equal(config.mailFrom, 'Shop <shop@example.com>');
  });

  it('when settings are bad, then each gets one clear line and no password is echoed', () => {
    assert.deepEqual(problems({ MAIL_TRANSPORT: 'smtp' }), [
      'SMTP_URL is required when MAIL_TRANSPORT=smtp (example: SMTP_URL=smtp://user:pass@smtp.example.com:587)',
    ]);
    const lines = problems({
      MAIL_TRANSPORT: 'ses',
      SMTP_URL: 'http://u:hunter2@mail.example.com',
      MAIL_FROM: 'nobody',
    });
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^MAIL_TRANSPORT="ses" must be one of file, smtp/);
    assert.match(
      lines[1]!,
      /^SMTP_URL="http:\/\/u:\*\*\*@mail\.example\.com" has protocol "http:" but must start with smtp:\/\//,
    );
    assert.match(lines[2]!, /^MAIL_FROM="nobody" is not an address/);
    assert.doesNotMatch(lines.join('\n'), /hunter2/);
  });
});

describe('platform mail', () => {
  it('when the platform starts with defaults, then platform.mail writes .eml files under DATA_DIR/mail', async () => {
    const root = await tempDir();
    const platform = await createPlatform(loadConfig({ DATA_DIR: root, LOG_LEVEL: 'silent' }), {
      inMemory: true,
    });
    try {
      await platform.mail.send(MESSAGE);
      assert.equal((await emlFiles(join(root, 'mail'))).length, 1);
    } finally {
      await platform.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
