/**
 * The emails, as event consumers: welcome on `user.registered`, confirmation to the buyer and
 * "new order" to each seller on `order.placed`, a shipped notice on `order.shipped`. Each
 * delivery sends through the mail port at most once per (consumer, event) barring a crash
 * between send and record (handleExternalOnce); the Message-ID derives from the event id, so
 * even that rare repeat is recognisable as the same message downstream.
 */

import type { Consumer, DomainEvent } from '../../platform/events/events.ts';
import { handleExternalOnce } from '../../platform/events/handle-once.ts';
import type { MailMessage } from '../../platform/mail/mail.ts';
import type { ModuleDeps } from '../module.ts';
import { createUsersService } from '../users/index.ts';
import {
  mailboxOf,
  orderConfirmationMessage,
  orderShippedMessage,
  type Person,
  type RenderedMail,
  sellerNewOrderMessage,
  welcomeMessage,
} from './templates.ts';

type Line = { productId: string; sellerId: string; title: string; quantity: number; priceMinor: number };
type OrderPlaced = { orderId: string; buyerId: string; lines: Line[]; totalMinor: number; currency: string };
type OrderShipped = { orderId: string; buyerId: string; lines: { title: string; quantity: number }[] };
type UserRegistered = { userId: string; email: string; name: string; role: 'buyer' | 'seller' | 'admin' };

export function notificationConsumers({ config, platform }: ModuleDeps): Consumer[] {
  const users = createUsersService({ config, platform });
  const db = platform.sql.for('notifications').write;

  async function person(userId: string): Promise<Person> {
    const user = await users.getUser(userId);
    // A user deleted meanwhile: nothing to send; throwing would only retry in vain.
    if (!user) throw new MissingRecipient(userId);
    return { name: user.name, email: user.email };
  }

  function mail(
    event: DomainEvent,
    consumer: string,
    to: Person,
    rendered: RenderedMail,
    part = '',
  ): MailMessage {
    return { to: mailboxOf(to), ...rendered, idempotencyKey: `${consumer}:${event.id}${part}` };
  }

  const once = (consumer: string, event: DomainEvent, fn: () => Promise<void>) =>
    handleExternalOnce(db, { consumer, eventId: event.id }, async () => {
      try {
        await fn();
      } catch (err) {
        if (!(err instanceof MissingRecipient)) throw err;
      }
    });

  return [
    {
      name: 'notifications.welcome-email',
      types: ['user.registered'],
      async handle(event, { consumer }) {
        const u = event.payload as UserRegistered;
        await once(consumer, event, async () => {
          await platform.mail.send(mail(event, consumer, u, welcomeMessage(u)));
        });
      },
    },
    {
      name: 'notifications.order-placed-emails',
      types: ['order.placed'],
      async handle(event, { consumer }) {
        const o = event.payload as OrderPlaced;
        await once(consumer, event, async () => {
          const buyer = await person(o.buyerId);
          await platform.mail.send(mail(event, consumer, buyer, orderConfirmationMessage({ ...o, buyer })));
          const bySeller = new Map<string, Line[]>();
          for (const l of o.lines) bySeller.set(l.sellerId, [...(bySeller.get(l.sellerId) ?? []), l]);
          for (const [sellerId, lines] of bySeller) {
            const seller = await person(sellerId).catch((err) => {
              if (err instanceof MissingRecipient) return null;
              throw err;
            });
            if (!seller) continue;
            await platform.mail.send(
              mail(
                event,
                consumer,
                seller,
                sellerNewOrderMessage({ orderId: o.orderId, seller, lines, currency: o.currency }),
                `:${sellerId}`,
              ),
            );
          }
        });
      },
    },
    {
      name: 'notifications.shipped-email',
      types: ['order.shipped'],
      async handle(event, { consumer }) {
        const s = event.payload as OrderShipped;
        await once(consumer, event, async () => {
          const buyer = await person(s.buyerId);
          await platform.mail.send(
            mail(event, consumer, buyer, orderShippedMessage({ orderId: s.orderId, buyer, lines: s.lines })),
          );
        });
      },
    },
  ];
}

class MissingRecipient extends Error {
  constructor(userId: string) {
    super(`user ${userId} no longer exists`);
  }
}
