/**
 * Photo upload: ask the API for a target, send the bytes there with XMLHttpRequest (fetch has no
 * upload progress), then say it is complete. Locally the target is the API's own signed
 * `PUT /uploads/…` and its arrival starts processing by itself; on S3 (presigned PUT or POST)
 * only `/complete` does. `/complete` is idempotent, so it is always called.
 */
import { ApiError, api, apiUrl, fallbackMessage, sentence } from '../../lib/api.ts';
import type { PhotoUpload } from '../../lib/types.ts';

export async function uploadPhoto(
  productId: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<string> {
  const target = await api<PhotoUpload>(`/api/products/${productId}/photos`, {
    method: 'POST',
    body: { contentType: file.type || 'application/octet-stream', size: file.size },
  });
  await send(target.upload, file, onProgress);
  await api(`/api/photos/${target.photoId}/complete`, { method: 'POST' });
  return target.photoId;
}

function send(
  upload: PhotoUpload['upload'],
  file: File,
  onProgress: (fraction: number) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const url = apiUrl(upload.url);
    xhr.open(upload.method, url);
    // No cookies: the URL itself is the credential (signed token or presigned request).
    let body: XMLHttpRequestBodyInit = file;
    if (upload.method === 'POST') {
      const form = new FormData();
      for (const [k, v] of Object.entries(upload.fields ?? {})) form.append(k, v);
      form.append('file', file);
      body = form;
    } else {
      for (const [k, v] of Object.entries(upload.headers ?? {})) xhr.setRequestHeader(k, v);
      if (!upload.headers || !Object.keys(upload.headers).some((k) => k.toLowerCase() === 'content-type')) {
        xhr.setRequestHeader('content-type', file.type);
      }
    }
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
        return;
      }
      let detail = '';
      try {
        const problem = JSON.parse(xhr.responseText) as { detail?: string };
        detail = typeof problem.detail === 'string' ? problem.detail : '';
      } catch {
        // An S3 error is XML; the status says enough.
      }
      reject(new ApiError(xhr.status, detail ? sentence(detail) : fallbackMessage(xhr.status)));
    };
    xhr.onerror = () => reject(new ApiError(0, 'The upload failed: the connection dropped. Try again.'));
    xhr.send(body);
  });
}
