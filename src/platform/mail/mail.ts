/**
 * Mail port: hands one finished message (a text and an HTML part) to a mail transport.
 * Adapters: `file/` (.eml files under DATA_DIR/mail plus a log line; solo), `smtp/` (any SMTP
 * relay); SES later. Mail is sent from jobs, never on the request path: `send` throwing means
 * "not handed over, retry later" (or, for INVALID_INPUT, "fix the caller").
 */

export type MailMessage = Readonly<{
  /** One or more recipients, one address per entry: `a@example.com` or `Ann <a@example.com>`; at most 50. */
  to: string | readonly string[];
  /** Sender, same syntax as one recipient; defaults to the adapter's configured `MAIL_FROM`. */
  from?: string;
  /** One line, at most 250 characters; any Unicode (encoded by the adapter). */
  subject: string;
  /** The text/plain part; must not be empty. */
  text: string;
  /** The text/html part; must not be empty. Callers escape what they interpolate. */
  html: string;
  /**
   * Extra headers (`List-Unsubscribe`, `X-Entity-Ref-ID`…): RFC 5322 field names, one-line
   * values. Headers the port sets itself (From, To, Subject, Date, Message-ID, MIME and
   * Content-* headers) are refused.
   */
  headers?: Readonly<Record<string, string>>;
  /**
   * Makes retries safe: the same key (with the same sender domain) always gives the same
   * Message-ID. The file adapter then writes the message once; SMTP cannot take back a
   * message a server accepted before a crash, so it may deliver twice with the same
   * Message-ID, which mail clients show once. 1–200 printable ASCII characters; use the event id.
   */
  idempotencyKey?: string;
}>;

export type SentMail = Readonly<{
  /** The message's `Message-ID` header, angle brackets included (`<…@domain>`). */
  messageId: string;
  /**
   * Recipients the transport refused while accepting the message for the others (SMTP: RCPT
   * answered 5xx). Empty when all were accepted; when all are refused `send` throws instead.
   */
  refused: readonly string[];
}>;

export interface Mailer {
  /**
   * Validates the message and hands it to the transport; resolves once the transport has
   * accepted it (file written and renamed into place; SMTP server answered 250 to the data).
   * Throws AppError INVALID_INPUT (nothing sent; retrying cannot help) when the message breaks
   * the rules above, and AppError UNAVAILABLE (nothing accepted; retry later) when the
   * transport failed, with a message naming the server, the step and its reply.
   */
  send(message: MailMessage): Promise<SentMail>;
  /** Releases connections and waits for in-flight sends; idempotent. */
  close(): Promise<void>;
}

/** What `MAIL_FROM` defaults to. */
export const DEFAULT_MAIL_FROM = 'Bazaar <no-reply@bazaar.test>';
