-- catalog: who a stock reservation is held for. The orders domain passes the buyer id (its
-- shard key), so a reconciliation can find the checkout behind a hold that outlived its lease
-- (docs/modules/orders.md, "Reconciliation"). Null for holds taken without one (the demo
-- seeder's batches, and holds from before this column).
alter table catalog.stock_reservations add column holder_id uuid;
