import { apiUrl } from '../lib/api.ts';
import type { ProductPhoto } from '../lib/types.ts';

/**
 * A photo with a responsive `srcset` from its variants: WebP for browsers that take it, JPEG
 * otherwise. `sizes` says how wide it is drawn so the browser picks the smallest fitting variant.
 */
export function Picture({
  photo,
  alt,
  sizes,
  eager,
  className,
}: {
  photo: ProductPhoto | null | undefined;
  alt: string;
  sizes: string;
  eager?: boolean;
  className?: string;
}) {
  const variants = photo?.variants ?? [];
  const set = (format: 'webp' | 'jpeg') =>
    variants
      .filter((v) => v.format === format)
      .sort((a, b) => a.width - b.width)
      .map((v) => `${apiUrl(v.url)} ${v.width}w`)
      .join(', ');
  const jpeg = variants.filter((v) => v.format === 'jpeg').sort((a, b) => a.width - b.width);
  const fallback = jpeg.find((v) => v.width >= 480) ?? jpeg.at(-1);
  if (!photo || !fallback) {
    return (
      <div className={`photo-placeholder ${className ?? ''}`} role="img" aria-label={alt}>
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M4 6h16v12H4z M4 15l4-4 4 4 3-3 5 5" fill="none" stroke="currentColor" strokeWidth="1.5" />
        </svg>
      </div>
    );
  }
  return (
    <picture className={className}>
      <source type="image/webp" srcSet={set('webp')} sizes={sizes} />
      <img
        src={apiUrl(fallback.url)}
        srcSet={set('jpeg')}
        sizes={sizes}
        alt={alt}
        width={fallback.width}
        height={fallback.height}
        loading={eager ? 'eager' : 'lazy'}
        decoding="async"
      />
    </picture>
  );
}
