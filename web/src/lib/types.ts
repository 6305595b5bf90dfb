/** Shapes of the API's JSON that the SPA reads (the server's TypeBox schemas are the source). */

export type Role = 'buyer' | 'seller' | 'admin';
export type User = { id: string; email: string; name: string; role: Role; createdAt: string };
/** GET /api/auth/session: the signed-in user, or null when nobody is signed in. */
export type SignedIn = { user: User | null };

export type Variant = { width: number; height: number; format: 'webp' | 'jpeg'; url: string };
export type ProductPhoto = { id: string; variants: Variant[] };

type ProductBase = {
  id: string;
  sellerId: string;
  categoryId: string;
  title: string;
  description: string;
  priceMinor: number;
  currency: string;
  stock: number;
  attributes: Record<string, string | number | boolean>;
  status: 'draft' | 'published';
  createdAt: string;
  updatedAt: string;
};
export type Product = ProductBase & { photos: ProductPhoto[] };
export type ProductListItem = ProductBase & { photo: ProductPhoto | null };
export type Page<T> = { items: T[]; nextCursor: string | null };

export type CategoryRef = { id: string; slug: string; name: string };
export type Category = CategoryRef & { children: CategoryRef[] };

export type Cart = {
  items: {
    productId: string;
    quantity: number;
    addedAt: string;
    product: {
      title: string;
      priceMinor: number;
      currency: string;
      stock: number;
      sellerId: string;
      available: boolean;
    } | null;
  }[];
  totalMinor: number | null;
  currency: string | null;
};

export type OrderStatus = 'placed' | 'shipped' | 'delivered' | 'cancelled';
export type Order = {
  id: string;
  buyerId: string;
  status: OrderStatus;
  currency: string;
  totalMinor: number;
  itemCount: number;
  lines: {
    productId: string;
    sellerId: string;
    title: string;
    priceMinor: number;
    quantity: number;
    lineTotalMinor: number;
    shippedAt: string | null;
  }[];
  placedAt: string;
  shippedAt: string | null;
  deliveredAt: string | null;
  cancelledAt: string | null;
};

export type SellerOrder = {
  orderId: string;
  buyerId: string;
  status: OrderStatus;
  currency: string;
  subtotalMinor: number;
  lines: { productId: string; title: string; priceMinor: number; quantity: number }[];
  placedAt: string;
  shippedAt: string | null;
};

export type PhotoStatus = 'awaiting_upload' | 'processing' | 'ready' | 'failed';
export type Photo = {
  id: string;
  productId: string;
  position: number;
  status: PhotoStatus;
  failureReason: string | null;
  variants: Variant[];
  createdAt: string;
};
export type PhotoUpload = {
  photoId: string;
  upload: {
    method: 'PUT' | 'POST';
    url: string;
    headers?: Record<string, string>;
    fields?: Record<string, string>;
    expiresAt: string;
  };
};

export type ProductBoard = {
  period: string;
  items: { rank: number; productId: string; title: string | null; unitsSold: number }[];
};
export type SellerBoard = {
  period: string;
  items: { rank: number; sellerId: string; name: string | null; unitsSold: number }[];
};
export type TopSearches = {
  period: string;
  from: string;
  to: string;
  items: { query: string; searches: number }[];
};
export type ProductViews = {
  from: string;
  to: string;
  items: { productId: string; day: string; views: number }[];
};
