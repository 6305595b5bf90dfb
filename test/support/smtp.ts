/**
 * A real SMTP server for tests (smtp-server on 127.0.0.1, ephemeral port, no TLS) that keeps
 * every message it accepts, with its envelope recipients, and can require credentials or
 * refuse recipients and data with chosen replies.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { ReceivedMail } from '../../src/platform/mail/mail.contract.ts';

/** The error a handler passes to make the server refuse with this reply code and text. */
export function refusal(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

export type Smtp = Readonly<{
  url: string;
  port: number;
  received: ReceivedMail[];
  logins: { username: string | undefined; password: string | null | undefined; ok: boolean }[];
  close(): Promise<void>;
}>;

/** A real SMTP server on 127.0.0.1:<ephemeral>; with `auth`, it requires and checks those credentials. */
export async function startSmtp(
  options: {
    auth?: { user: string; pass: string };
    refuseRcpt?: (address: string) => Error | undefined;
    refuseData?: () => Error | undefined;
  } = {},
): Promise<Smtp> {
  const received: ReceivedMail[] = [];
  const logins: Smtp['logins'] = [];
  const config: SMTPServerOptions = {
    logger: false,
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      const ok = auth.username === options.auth?.user && auth.password === options.auth?.pass;
      logins.push({ username: auth.username, password: auth.password, ok });
      if (ok) callback(null, { user: auth.username });
      else callback(refusal(535, 'Authentication credentials invalid'));
    },
    onRcptTo(address, _session, callback) {
      callback(options.refuseRcpt?.(address.address) ?? null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refused = options.refuseData?.();
        if (refused) return callback(refused);
        received.push({
          raw: Buffer.concat(chunks),
          recipients: session.envelope.rcptTo.map((r) => r.address),
        });
        callback(null);
      });
    },
  };
  const server = new SMTPServer(config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const creds = options.auth ? `${options.auth.user}:${encodeURIComponent(options.auth.pass)}@` : '';
  return {
    url: `smtp://${creds}127.0.0.1:${port}`,
    port,
    received,
    logins,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
