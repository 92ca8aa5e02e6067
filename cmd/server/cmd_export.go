package main

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store"
)

func init() {
	register("export", "write one source (--model, --source) in Neuronpedia's export layout under --to", runExport)
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "export")
	model := fs.String("model", "", "model id")
	source := fs.String("source", "", "source id, e.g. 6-res-jb")
	to := fs.String("to", "", "layout root to write {model}/{source}/ under")
	var cfg dbConfig
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *source == "" || *to == "" {
		return fmt.Errorf("export: --model, --source and --to are required")
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	n, dir, err := exportSource(ctx, db, *model, *source, *to)
	if err != nil {
		return err
	}
	env.Logger().Info("export done", "features", n, "dir", dir)
	return nil
}

// exportSource writes a source with every feature, example and
// explanation; it returns the number of features and the folder written.
func exportSource(ctx context.Context, db *store.DB, modelID, sourceID, root string) (int, string, error) {
	meta := &npexport.Meta{}
	var err error
	if meta.Model, err = db.GetModel(ctx, modelID); err != nil {
		return 0, "", err
	}
	if meta.Source, err = db.GetSource(ctx, modelID, sourceID); err != nil {
		return 0, "", err
	}
	// NumFeatures read back as the stored-feature count when the source
	// does not set it: export only a width that was set.
	if st, err := db.SourceStats(ctx, modelID, sourceID); err == nil && st.NumFeatures == meta.Source.NumFeatures {
		meta.Source.NumFeatures = 0
	}
	sets, err := db.ListSourceSets(ctx, modelID)
	if err != nil {
		return 0, "", err
	}
	for _, s := range sets {
		if s.Name == meta.Source.SetName {
			meta.SourceSet = s
		}
	}
	if meta.SourceSet != nil && meta.SourceSet.ReleaseName != nil {
		if meta.Release, err = db.GetRelease(ctx, *meta.SourceSet.ReleaseName); err != nil {
			return 0, "", err
		}
	}
	w, err := npexport.NewWriter(root, meta)
	if err != nil {
		return 0, "", err
	}
	const page = 512
	total := 0
	for offset := 0; ; offset += page {
		sums, _, err := db.ListFeatures(ctx, features.FeatureFilter{ModelID: modelID, SourceID: sourceID,
			Sort: features.SortByIndex, Offset: offset, Limit: page})
		if err != nil {
			w.Close()
			return 0, "", err
		}
		if len(sums) == 0 {
			break
		}
		// Fetch a page in parallel, write it in index order.
		feats := make([]*features.Feature, len(sums))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(4)
		for i, s := range sums {
			g.Go(func() error {
				f, err := db.GetFeature(gctx, s.Key, features.FeatureOptions{})
				feats[i] = f
				return err
			})
		}
		if err := g.Wait(); err != nil {
			w.Close()
			return 0, "", err
		}
		for _, f := range feats {
			if err := w.Add(f); err != nil {
				w.Close()
				return 0, "", err
			}
		}
		total += len(feats)
	}
	return total, w.Dir(), w.Close()
}
