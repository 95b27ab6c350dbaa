-- 004_outbox_seq.sql - the order events are delivered in: seq, a number
-- the relay gives each event once its transaction committed (see
-- shared/crm_outbox.h: ids are handed out at insert time, and a cursor on
-- them skipped an event whose transaction committed after a later id was
-- read). Events already written keep their id as their number, so the
-- subscribers' cursors (outbox_cursors.last_id) stay where they were.
ALTER TABLE outbox
    ADD COLUMN seq BIGINT UNSIGNED NULL,
    ADD UNIQUE KEY uq_outbox_seq (seq);
UPDATE outbox SET seq = id WHERE seq IS NULL;
