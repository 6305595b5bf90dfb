-- orders: find a checkout's idempotency key by (buyer, order id), for the reconciliation that
-- settles stock holds left by a crashed checkout (docs/modules/orders.md, "Reconciliation").
create index idempotency_keys_order_idx on orders.idempotency_keys (buyer_id, order_id);
