export type AnalyticsDb = {
  rollup_state: { stream: string; position: string; updated_at: Date };
  search_daily: { day: string; query: string; searches: number };
  category_visitors: { day: string; category_id: string; visitor: string };
  product_views_daily: { day: string; product_id: string; seller_id: string; views: number };
};
