/**
 * notifications: the emails Bazaar sends — message templates (pure functions) and the event
 * consumers that send them through the mail port. Other modules import only this file.
 */
import { fileURLToPath } from 'node:url';
import type { WebModule } from '../module.ts';
import { notificationConsumers } from './consumers.ts';

export const notificationsModule: WebModule = {
  name: 'notifications',
  migrations: {
    domain: 'notifications',
    dir: fileURLToPath(new URL('../../../migrations/notifications/', import.meta.url)),
  },
  consumers: notificationConsumers,
};

export {
  escapeHtml,
  formatMoney,
  mailboxOf,
  type OrderConfirmationInput,
  type OrderShippedInput,
  orderConfirmationMessage,
  orderShippedMessage,
  type Person,
  type PricedLine,
  type RenderedMail,
  type SellerNewOrderInput,
  sellerNewOrderMessage,
  type WelcomeInput,
  welcomeMessage,
} from './templates.ts';
