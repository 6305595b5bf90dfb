/** The media schema's tables as Kysely sees them (migrations/media/ is the source of truth). */
import type { ColumnType } from 'kysely';
import type { OutboxTable } from '../../platform/events/outbox.ts';

export type PhotoStatus = 'awaiting_upload' | 'processing' | 'ready' | 'failed';

/** A stored variant: its object key, not a URL (URLs are built at response time). */
export type StoredVariant = { width: number; height: number; format: 'webp' | 'jpeg'; key: string };

export type PhotosTable = {
  id: string;
  product_id: string;
  seller_id: string;
  position: number;
  status: PhotoStatus;
  original_key: string;
  content_type: string;
  declared_size: number;
  failure_reason: string | null;
  /** Written as a JSON text, read as an array. */
  variants: ColumnType<StoredVariant[], string | undefined, string>;
  created_at: ColumnType<Date, Date, never>;
  updated_at: ColumnType<Date, Date, Date>;
};

export type MediaDb = OutboxTable & { photos: PhotosTable };
