import { useCallback, useEffect, useId, useRef, useState } from 'react';
import { Picture } from '../../components/picture.tsx';
import { ErrorAlert } from '../../components/status.tsx';
import { api, errorMessage } from '../../lib/api.ts';
import type { Photo } from '../../lib/types.ts';
import { uploadPhoto } from './upload.ts';

const POLL_MS = 1500;
const MAX_BYTES = 20 * 1024 * 1024;

type Upload = { id: number; name: string; progress: number; error: string | null; done: boolean };

function statusText(photo: Photo): string {
  switch (photo.status) {
    case 'awaiting_upload':
      return 'waiting for upload';
    case 'processing':
      return 'processing';
    case 'ready':
      return 'ready';
    case 'failed':
      return `failed: ${photo.failureReason ?? 'the image could not be processed'}`;
  }
}

/** Photos of one product: upload with progress, and each photo's processing status, polled live. */
export function PhotoManager({ productId, title }: { productId: string; title: string }) {
  const inputId = useId();
  const [photos, setPhotos] = useState<Photo[] | undefined>(undefined);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [error, setError] = useState<unknown>(null);
  const seq = useRef(0);

  const refresh = useCallback(async () => {
    try {
      const list = await api<{ items: Photo[] }>(`/api/products/${productId}/photos`);
      setPhotos(list.items);
    } catch (err) {
      setError(err);
    }
  }, [productId]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const pending =
    uploads.some((u) => !u.done && !u.error) ||
    (photos ?? []).some((p) => p.status === 'processing' || p.status === 'awaiting_upload');
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => void refresh(), POLL_MS);
    return () => clearInterval(timer);
  }, [pending, refresh]);

  const update = (id: number, change: Partial<Upload>) =>
    setUploads((list) => list.map((u) => (u.id === id ? { ...u, ...change } : u)));

  const start = async (file: File) => {
    const id = ++seq.current;
    setUploads((list) => [...list, { id, name: file.name, progress: 0, error: null, done: false }]);
    if (file.size > MAX_BYTES) {
      update(id, { error: 'This file is larger than 20 MB; choose a smaller one.' });
      return;
    }
    try {
      await uploadPhoto(productId, file, (progress) => update(id, { progress }));
      update(id, { done: true, progress: 1 });
    } catch (err) {
      update(id, { error: errorMessage(err) });
    }
    void refresh();
  };

  return (
    <section className="card-panel photos" aria-labelledby={`${inputId}-h`}>
      <h2 id={`${inputId}-h`}>Photos</h2>
      <div className="field">
        <label htmlFor={inputId}>Add photos</label>
        <input
          id={inputId}
          type="file"
          accept="image/*"
          multiple
          onChange={(e) => {
            const files = [...(e.target.files ?? [])];
            e.target.value = '';
            for (const f of files) void start(f);
          }}
        />
        <small className="hint">JPEG, PNG, WebP, GIF or AVIF, up to 20 MB each and 10 per product.</small>
      </div>
      {uploads.length > 0 && (
        <ul className="uploads" aria-label="Uploads">
          {uploads.map((u) => (
            <li key={u.id}>
              <span className="upload-name">{u.name}</span>
              {u.error ? (
                <span role="alert" className="alert inline-alert">
                  {u.error}
                </span>
              ) : (
                <>
                  <progress
                    aria-label={`Uploading ${u.name}`}
                    max={100}
                    value={Math.round(u.progress * 100)}
                  />
                  <span className="muted">{u.done ? 'uploaded' : `${Math.round(u.progress * 100)}%`}</span>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      <ErrorAlert error={error} />
      {photos && photos.length === 0 && (
        <p className="muted">No photos yet. Products with photos sell better.</p>
      )}
      {photos && photos.length > 0 && (
        <ul className="photo-list" aria-label="Photos of this product">
          {photos.map((p, i) => (
            <li key={p.id} className={`photo-item photo-${p.status}`}>
              {p.status === 'ready' ? (
                <Picture photo={p} alt={`${title}, photo ${i + 1}`} sizes="120px" />
              ) : (
                <div className="photo-placeholder" aria-hidden="true" />
              )}
              <span className="photo-status" data-status={p.status}>
                {statusText(p)}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
