-- Deep pages of every source-browser sort as index ranges (docs/scaling.md
-- "1M features"): a page at offset o of a sort skipped o index entries
-- (~40 ms of PostgreSQL per random page at 1M features).
--
-- feature_rank_marks holds, per source and order, the sort key of every
-- stride-th feature (positions 0, stride, 2*stride ... counted from the
-- ascending end; store/ranks.go). A page at position p starts a keyset scan
-- at mark floor(p/stride) and skips fewer than stride entries. Orders
-- (ord): 0 idx, 1 idx of live features, 2 max_act_approx, 3 the same over
-- live features, 4 frac_nonzero, 5 the same over live features.
--
-- Exactness: any write to a source's features deletes its marks in the
-- writing transaction (statement triggers), so a statement that sees a mark
-- sees exactly the features it was computed from; without marks the store
-- answers with the OFFSET skip. A refresh takes the source's advisory lock
-- exclusively, writers take it shared in the same triggers, so no write is
-- in flight (uncommitted, unseen by the refresh) while the marks are
-- computed, and writes that come after delete them.

-- +goose Up
CREATE TABLE feature_rank_marks (
    sid integer  NOT NULL,
    ord smallint NOT NULL,
    pos integer  NOT NULL,
    key float8   NOT NULL,
    idx integer  NOT NULL,
    PRIMARY KEY (sid, ord, pos)
);

-- +goose StatementBegin
CREATE FUNCTION feature_rank_marks_stale() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s integer;
BEGIN
    FOR s IN SELECT DISTINCT sid FROM changed_rows ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock_shared(hashtext('saex feature ranks'), s);
        DELETE FROM feature_rank_marks WHERE sid = s;
    END LOOP;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER features_ranks_insert AFTER INSERT ON features
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_rank_marks_stale();
CREATE TRIGGER features_ranks_delete AFTER DELETE ON features
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_rank_marks_stale();
-- An update may change the sort keys; the old and the new rows have the same
-- sid (the writers never move a feature between sources).
CREATE TRIGGER features_ranks_update AFTER UPDATE ON features
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_rank_marks_stale();

-- +goose Down
DROP TRIGGER features_ranks_update ON features;
DROP TRIGGER features_ranks_delete ON features;
DROP TRIGGER features_ranks_insert ON features;
DROP FUNCTION feature_rank_marks_stale();
DROP TABLE feature_rank_marks;
