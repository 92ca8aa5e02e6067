-- Sources of a million features (docs/scaling.md "1M features"): the
-- source browser must not count or scan a source's features per page view.
--
-- 1. feature_tallies: per source and bin, how many features there are,
--    kept by statement-level triggers on features as append-only deltas
--    (no row is updated, so parallel writers never wait on each other);
--    the store sums a source's rows and folds them into one row per bin now
--    and then. Bins: -2 dead (max_act_approx <= 0), -1 live without a
--    density (frac_nonzero <= 0), 0..34 the log10 density bins of the source
--    page's histogram (store/density.go: from 1e-7 in steps of 0.2).
-- 2. Browser indexes that end in idx (the tie-breaker of every sort) and
--    carry max_act_approx (the hide-dead filter), so a page deep in any sort
--    is an index-only scan.
-- 3. Indexes for the substring and top-logit arms of the browser's filter
--    and of explanation search, which scanned every row (pg_trgm is a
--    trusted contrib extension: the database owner may create it).

-- +goose Up
CREATE FUNCTION feature_tally_bin(max_act float8, frac float8) RETURNS smallint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN max_act <= 0 THEN -2
                WHEN frac <= 0 THEN -1
                ELSE least(greatest(floor((log(frac) - (-7.0)::float8) / 0.2::float8), 0), 34)::smallint END;

CREATE TABLE feature_tallies (
    sid integer  NOT NULL,
    bin smallint NOT NULL,
    n   bigint   NOT NULL
);
CREATE INDEX feature_tallies_sid ON feature_tallies (sid) INCLUDE (bin, n);

-- +goose StatementBegin
CREATE FUNCTION feature_tallies_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feature_tallies (sid, bin, n)
    SELECT sid, feature_tally_bin(max_act_approx, frac_nonzero), count(*) FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_tallies_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feature_tallies (sid, bin, n)
    SELECT sid, feature_tally_bin(max_act_approx, frac_nonzero), -count(*) FROM old_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_tallies_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feature_tallies (sid, bin, n)
    SELECT sid, bin, sum(n) FROM (
        SELECT sid, feature_tally_bin(max_act_approx, frac_nonzero) AS bin, 1 AS n FROM new_rows
        UNION ALL
        SELECT sid, feature_tally_bin(max_act_approx, frac_nonzero), -1 FROM old_rows) d
    GROUP BY 1, 2 HAVING sum(n) <> 0;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER features_tally_insert AFTER INSERT ON features
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_tallies_add();
CREATE TRIGGER features_tally_delete AFTER DELETE ON features
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_tallies_remove();
CREATE TRIGGER features_tally_update AFTER UPDATE ON features
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_tallies_change();

-- Sources that exist already.
INSERT INTO feature_tallies (sid, bin, n)
SELECT sid, feature_tally_bin(max_act_approx, frac_nonzero), count(*) FROM features GROUP BY 1, 2;

DROP INDEX features_maxact;
DROP INDEX features_density;
CREATE INDEX features_maxact ON features (sid, max_act_approx, idx);
CREATE INDEX features_density ON features (sid, frac_nonzero, idx) INCLUDE (max_act_approx);
CREATE INDEX features_live ON features (sid, idx) WHERE max_act_approx > 0;

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX explanations_description_trgm ON explanations USING gin (lower(description) gin_trgm_ops);
CREATE INDEX features_top_logits ON features USING gin ((pos_str[1:10]));

-- +goose Down
-- (pg_trgm stays: something else may use it.)
DROP INDEX features_top_logits;
DROP INDEX explanations_description_trgm;
DROP INDEX features_live;
DROP INDEX features_density;
DROP INDEX features_maxact;
CREATE INDEX features_maxact ON features (sid, max_act_approx);
CREATE INDEX features_density ON features (sid, frac_nonzero);
DROP TRIGGER features_tally_update ON features;
DROP TRIGGER features_tally_delete ON features;
DROP TRIGGER features_tally_insert ON features;
DROP FUNCTION feature_tallies_change();
DROP FUNCTION feature_tallies_remove();
DROP FUNCTION feature_tallies_add();
DROP TABLE feature_tallies;
DROP FUNCTION feature_tally_bin(float8, float8);
