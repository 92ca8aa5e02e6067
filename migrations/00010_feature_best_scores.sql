-- The source browser's sort by a scorer (?sort=score:<type>) at a million
-- features: each feature's best score of each scorer over all its
-- explanations, kept in a table of its own so that a page is an index scan
-- in (best, idx) order instead of an aggregate of every score of the
-- source.
--
-- A row exists exactly when the feature has an explanation with a score of
-- that type (explanations reference features ON DELETE CASCADE, so rows
-- only name features that exist). Statement triggers keep it exact:
--   inserted scores raise best (INSERT ... ON CONFLICT ... greatest, so two
--   writers scoring one feature at once both count);
--   updated and deleted scores, and deleted explanations (a dashboard
--   rebuild deletes and re-inserts a feature's explanations), recompute
--   best from explanations and explanation_scores for the features they
--   touch. The recompute deletes the rows first (in key order, so that
--   concurrent writers queue rather than deadlock), then inserts the
--   recomputed values with greatest() on conflict: a row that reappears in
--   between was written by a concurrent insert of a live score.
-- The number of rows per (sid, score_type), which places a page in the
-- scored or the unscored part of the order, is kept as append-only deltas
-- in feature_best_score_tallies (as migration 00009's feature_tallies: no
-- row is updated, so parallel writers never wait on each other); a writer
-- that finds 256 or more delta rows of one (sid, score_type) folds them into
-- one, one writer at a time (a transaction-scoped advisory lock, skipped
-- when taken).
-- Two orders, because the browser breaks ties by ascending idx in both
-- directions: (best, idx) serves ascending (and, scanned backward, its
-- reverse), (best DESC, idx) descending.

-- +goose Up
CREATE TABLE feature_best_scores (
    sid        integer NOT NULL,
    score_type text    NOT NULL,
    idx        integer NOT NULL,
    best       float8  NOT NULL,
    PRIMARY KEY (sid, score_type, idx)
);

-- +goose StatementBegin
-- feature_best_scores_recompute sets the rows of the listed features from
-- the base tables: keys (sid, idx, type), type NULL meaning every type.
CREATE FUNCTION feature_best_scores_recompute(sids integer[], idxs integer[], types text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM feature_best_scores b
    JOIN (SELECT DISTINCT * FROM unnest(sids, idxs, types) k(sid, idx, type)) k
      ON b.sid = k.sid AND b.idx = k.idx AND (k.type IS NULL OR b.score_type = k.type)
    ORDER BY b.sid, b.score_type, b.idx
    FOR UPDATE OF b;
    DELETE FROM feature_best_scores b
    USING (SELECT DISTINCT * FROM unnest(sids, idxs, types) k(sid, idx, type)) k
    WHERE b.sid = k.sid AND b.idx = k.idx AND (k.type IS NULL OR b.score_type = k.type);
    INSERT INTO feature_best_scores (sid, score_type, idx, best)
    SELECT e.sid, s.explanation_score_type_name, e.idx, max(s.value)
    FROM (SELECT DISTINCT * FROM unnest(sids, idxs, types) k(sid, idx, type)) k
    JOIN explanations e ON e.sid = k.sid AND e.idx = k.idx
    JOIN explanation_scores s ON s.explanation_id = e.id
    WHERE k.type IS NULL OR s.explanation_score_type_name = k.type
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (sid, score_type, idx) DO UPDATE SET best = EXCLUDED.best
    WHERE EXCLUDED.best > feature_best_scores.best;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_best_scores_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feature_best_scores (sid, score_type, idx, best)
    SELECT e.sid, n.explanation_score_type_name, e.idx, max(n.value)
    FROM new_scores n JOIN explanations e ON e.id = n.explanation_id
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (sid, score_type, idx) DO UPDATE SET best = EXCLUDED.best
    WHERE EXCLUDED.best > feature_best_scores.best;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_best_scores_remove() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sids integer[];
    idxs integer[];
    types text[];
BEGIN
    -- Scores deleted with their explanation find none here: the
    -- explanations trigger recomputes those.
    SELECT array_agg(e.sid), array_agg(e.idx), array_agg(o.explanation_score_type_name)
    INTO sids, idxs, types
    FROM (SELECT DISTINCT explanation_id, explanation_score_type_name FROM old_scores) o
    JOIN explanations e ON e.id = o.explanation_id;
    IF sids IS NOT NULL THEN
        PERFORM feature_best_scores_recompute(sids, idxs, types);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_best_scores_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sids integer[];
    idxs integer[];
    types text[];
BEGIN
    SELECT array_agg(e.sid), array_agg(e.idx), array_agg(c.type)
    INTO sids, idxs, types
    FROM (SELECT explanation_id, explanation_score_type_name AS type FROM old_scores
          UNION SELECT explanation_id, explanation_score_type_name FROM new_scores) c
    JOIN explanations e ON e.id = c.explanation_id;
    IF sids IS NOT NULL THEN
        PERFORM feature_best_scores_recompute(sids, idxs, types);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION feature_best_scores_explanations_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sids integer[];
    idxs integer[];
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT array_agg(sid), array_agg(idx) INTO sids, idxs
        FROM (SELECT DISTINCT sid, idx FROM old_rows) o;
    ELSE
        SELECT array_agg(sid), array_agg(idx) INTO sids, idxs
        FROM (SELECT o.sid, o.idx FROM old_rows o JOIN new_rows n ON n.id = o.id
              WHERE (o.sid, o.idx) IS DISTINCT FROM (n.sid, n.idx)
              UNION SELECT n.sid, n.idx FROM old_rows o JOIN new_rows n ON n.id = o.id
              WHERE (o.sid, o.idx) IS DISTINCT FROM (n.sid, n.idx)) c;
    END IF;
    IF sids IS NOT NULL THEN
        PERFORM feature_best_scores_recompute(sids, idxs, array_fill(NULL::text, ARRAY[cardinality(sids)]));
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER explanation_scores_best_insert AFTER INSERT ON explanation_scores
    REFERENCING NEW TABLE AS new_scores FOR EACH STATEMENT EXECUTE FUNCTION feature_best_scores_add();
CREATE TRIGGER explanation_scores_best_delete AFTER DELETE ON explanation_scores
    REFERENCING OLD TABLE AS old_scores FOR EACH STATEMENT EXECUTE FUNCTION feature_best_scores_remove();
CREATE TRIGGER explanation_scores_best_update AFTER UPDATE ON explanation_scores
    REFERENCING OLD TABLE AS old_scores NEW TABLE AS new_scores FOR EACH STATEMENT EXECUTE FUNCTION feature_best_scores_change();
CREATE TRIGGER explanations_best_delete AFTER DELETE ON explanations
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_best_scores_explanations_changed();
CREATE TRIGGER explanations_best_update AFTER UPDATE ON explanations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_best_scores_explanations_changed();

-- Scores that exist already.
INSERT INTO feature_best_scores (sid, score_type, idx, best)
SELECT e.sid, s.explanation_score_type_name, e.idx, max(s.value)
FROM explanation_scores s JOIN explanations e ON e.id = s.explanation_id
GROUP BY 1, 2, 3;

CREATE TABLE feature_best_score_tallies (
    sid        integer NOT NULL,
    score_type text    NOT NULL,
    n          bigint  NOT NULL
);
CREATE INDEX feature_best_score_tallies_key ON feature_best_score_tallies (sid, score_type) INCLUDE (n);
INSERT INTO feature_best_score_tallies (sid, score_type, n)
SELECT sid, score_type, count(*) FROM feature_best_scores GROUP BY 1, 2;

-- +goose StatementBegin
CREATE FUNCTION feature_best_score_tally() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO feature_best_score_tallies (sid, score_type, n)
        SELECT sid, score_type, count(*) FROM changed_rows GROUP BY 1, 2;
    ELSE
        INSERT INTO feature_best_score_tallies (sid, score_type, n)
        SELECT sid, score_type, -count(*) FROM changed_rows GROUP BY 1, 2;
    END IF;
    FOR k IN SELECT DISTINCT sid, score_type FROM changed_rows LOOP
        IF (SELECT count(*) FROM feature_best_score_tallies t WHERE t.sid = k.sid AND t.score_type = k.score_type) >= 256
           AND pg_try_advisory_xact_lock(hashtextextended('saex best score tallies ' || k.score_type, k.sid)) THEN
            WITH d AS (DELETE FROM feature_best_score_tallies t WHERE t.sid = k.sid AND t.score_type = k.score_type RETURNING t.n)
            INSERT INTO feature_best_score_tallies (sid, score_type, n)
            SELECT k.sid, k.score_type, sum(n) FROM d HAVING sum(n) <> 0;
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER feature_best_scores_tally_insert AFTER INSERT ON feature_best_scores
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_best_score_tally();
CREATE TRIGGER feature_best_scores_tally_delete AFTER DELETE ON feature_best_scores
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION feature_best_score_tally();

CREATE INDEX feature_best_scores_asc ON feature_best_scores (sid, score_type, best, idx);
CREATE INDEX feature_best_scores_desc ON feature_best_scores (sid, score_type, best DESC, idx);

-- +goose Down
DROP TRIGGER explanations_best_update ON explanations;
DROP TRIGGER explanations_best_delete ON explanations;
DROP TRIGGER explanation_scores_best_update ON explanation_scores;
DROP TRIGGER explanation_scores_best_delete ON explanation_scores;
DROP TRIGGER explanation_scores_best_insert ON explanation_scores;
DROP TRIGGER feature_best_scores_tally_delete ON feature_best_scores;
DROP TRIGGER feature_best_scores_tally_insert ON feature_best_scores;
DROP FUNCTION feature_best_score_tally();
DROP TABLE feature_best_score_tallies;
DROP FUNCTION feature_best_scores_explanations_changed();
DROP FUNCTION feature_best_scores_change();
DROP FUNCTION feature_best_scores_remove();
DROP FUNCTION feature_best_scores_add();
DROP FUNCTION feature_best_scores_recompute(integer[], integer[], text[]);
DROP TABLE feature_best_scores;
