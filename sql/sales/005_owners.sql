-- 005_owners.sql - who owns what, for the object-level checks of the
-- identity issue: a sales user sees and changes only the orders of the
-- customers they own.
--
-- The replica learns each customer's owner_id from the customers service
-- (events and the read-through). An order keeps the owner its customer had
-- when the order was made (or re-pointed to another customer): reassigning
-- a customer later does not move its past orders.
ALTER TABLE customers
    ADD COLUMN owner_id BIGINT UNSIGNED NULL AFTER status;

ALTER TABLE orders
    ADD COLUMN owner_id BIGINT UNSIGNED NULL AFTER campaign_id,
    ADD KEY ix_orders_owner (owner_id, created_at, id);
