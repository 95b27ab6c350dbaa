-- 002_orders_confirmed.sql - the dashboard's revenue by day reads the
-- counted orders of the last 30 days: a range on this key instead of a
-- scan of every order marketing ever heard of.
ALTER TABLE orders
    ADD KEY ix_orders_confirmed (counted, confirmed_at);
