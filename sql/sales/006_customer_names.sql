-- 006_customer_names.sql - the order form offers the customers a user may
-- order for by name: every live one (admins), or a sales user's own. These
-- keys let that list read its first rows in order instead of sorting the
-- whole replica on every form.
ALTER TABLE customers
    ADD KEY ix_customers_name (deleted, name, id),
    ADD KEY ix_customers_owner_name (owner_id, deleted, name, id);
