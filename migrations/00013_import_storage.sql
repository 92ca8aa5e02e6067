-- Cheaper bulk loads of features (docs/scaling.md "1M features" -> "Import").
--
-- 1. A feature row is ~2.7 KB (25 neighbours, two 50-bin histograms, top
--    logits, alignment tables), above the 2 KB at which PostgreSQL starts to
--    TOAST a row: every insert tried pglz on its largest arrays (random
--    float8s, which do not compress, so the attempt was wasted), then moved
--    them to the TOAST table (one more heap row and index entry each).
--    toast_tuple_target = 8160 keeps rows up to a page inline: no
--    compression attempt, no TOAST insert, and a feature page reads its row
--    without a TOAST index lookup. The table grows a little (the TOAST table
--    had saved next to nothing).
-- 2. Values that are still TOASTed (rows over 8 KB: steering vectors, long
--    examples or explanations) are compressed with lz4, several times
--    faster than pglz at a similar ratio. Only new values are affected.
--    A server built without lz4 refuses SET COMPRESSION lz4 with
--    feature_not_supported: then the columns keep pglz and the migration
--    still succeeds (TestImportStorageMigration checks either outcome).

-- +goose Up
ALTER TABLE features SET (toast_tuple_target = 8160);

-- +goose StatementBegin
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT a.attrelid::regclass AS tbl, a.attname
          FROM pg_attribute a
         WHERE a.attrelid IN ('features'::regclass, 'activations'::regclass, 'explanations'::regclass)
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage IN ('x', 'm')
         ORDER BY 1, a.attnum
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION lz4', c.tbl, c.attname);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: TOASTed values stay pglz-compressed';
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT a.attrelid::regclass AS tbl, a.attname
          FROM pg_attribute a
         WHERE a.attrelid IN ('features'::regclass, 'activations'::regclass, 'explanations'::regclass)
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attcompression <> ''
         ORDER BY 1, a.attnum
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION default', c.tbl, c.attname);
    END LOOP;
END $$;
-- +goose StatementEnd
ALTER TABLE features RESET (toast_tuple_target);
