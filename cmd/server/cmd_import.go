package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"
	"golang.org/x/sync/errgroup"

	"saex/internal/features"
	"saex/internal/npexport"
	"saex/internal/store"
)

func init() {
	register("import", "load a Neuronpedia export (--from: layout root, model or source folder) or SAEDashboard batch files; resumable", runImport)
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import")
	from := fs.String("from", "", "folder to import: Neuronpedia layout root, a model or source folder, or SAEDashboard output")
	workers := fs.Int("workers", max(2, runtime.NumCPU()), "files loaded in parallel")
	cfg := dbConfig{Migrate: true}
	addDBFlags(fs, env, &cfg)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("import: --from is required")
	}
	found, err := npexport.Discover(*from)
	if err != nil {
		return err
	}
	db, cleanup, err := openDatabase(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	if path := env.Getenv("SAEX_CPUPROFILE"); path != "" { // for tuning the import
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if env.Getenv("GOGC") == "" {
		// Parsed files are large, short-lived heaps: collecting less often
		// saves a sixth of the import's CPU for a few hundred MB of memory.
		debug.SetGCPercent(400)
	}
	// Each file is one transaction with its checkpoint: a crash loses whole
	// files only, which the rerun imports again, so commits need not wait
	// for the WAL flush.
	db.LazyCheckpointCommits = true
	im := &importer{db: db, log: env.Logger(), root: *from, workers: max(1, *workers)}
	start := time.Now()
	stats, err := im.run(ctx, found, env.Stderr)
	if err != nil {
		return err
	}
	im.log.Info("import done", "files", stats.files, "skipped", stats.skipped, "rows", stats.rows,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// importer loads export files, one transaction and one checkpoint per
// file: a rerun skips files whose checkpoint (same content hash) exists,
// and a file interrupted half-way was rolled back by PostgreSQL.
type importer struct {
	db      *store.DB
	log     *slog.Logger
	root    string
	workers int

	rows, files, skipped atomic.Int64
	doneBytes            atomic.Int64
	// wroteFeatures holds the sources ([2]string{model, source}) whose
	// features this run wrote: their rank marks are refreshed at the end.
	wroteFeatures sync.Map
}

type importStats struct{ files, skipped, rows int64 }

// unit is one input file of a phase.
type unit struct {
	path   string // on disk
	rel    string // relative to the import root: the checkpoint unit
	source *npexport.SourceDir
	size   int64
	kind   string // features, activations, explanations, dashboard
}

func (im *importer) job(model, source string) string { return "import:" + model + "/" + source }

func (im *importer) rel(path string) string {
	if r, err := filepath.Rel(im.root, path); err == nil && r != "." {
		return filepath.ToSlash(r)
	}
	return filepath.Base(path)
}

func (im *importer) run(ctx context.Context, found *npexport.Found, stderr io.Writer) (importStats, error) {
	// Phases: features before activations and explanations, so examples
	// always find their features whatever the file order.
	phases := make([][]unit, 3)
	var total int64
	add := func(phase int, u unit) {
		if st, err := os.Stat(u.path); err == nil {
			u.size = st.Size()
		}
		total += u.size
		phases[phase] = append(phases[phase], u)
	}
	for _, p := range found.Dashboards {
		add(0, unit{path: p, rel: im.rel(p), kind: "dashboard"})
	}
	for _, sd := range found.Sources {
		for _, f := range sd.Features {
			add(0, unit{path: filepath.Join(sd.Path, f), source: sd, kind: "features"})
		}
		for _, f := range sd.Activations {
			add(1, unit{path: filepath.Join(sd.Path, f), source: sd, kind: "activations"})
		}
		for _, f := range sd.Explanations {
			add(2, unit{path: filepath.Join(sd.Path, f), source: sd, kind: "explanations"})
		}
	}
	for _, ph := range phases {
		for i := range ph {
			if ph[i].source != nil {
				ph[i].rel, _ = filepath.Rel(ph[i].source.Path, ph[i].path)
				ph[i].rel = filepath.ToSlash(ph[i].rel)
			}
		}
	}
	for _, sd := range found.Sources {
		if err := im.loadMeta(ctx, sd); err != nil {
			return importStats{}, err
		}
	}
	stopProgress := im.progress(ctx, stderr, total)
	defer stopProgress()
	for i, ph := range phases {
		phaseStart, rows0 := time.Now(), im.rows.Load()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(im.workers)
		for _, u := range ph {
			g.Go(func() error {
				err := im.loadFile(gctx, u)
				im.doneBytes.Add(u.size)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return importStats{}, err
		}
		if len(ph) > 0 {
			took := time.Since(phaseStart)
			im.log.Info("import phase done", "phase", [...]string{"features", "activations", "explanations"}[i],
				"files", len(ph), "rows", im.rows.Load()-rows0, "took", took.Round(time.Millisecond),
				"rows_per_s", int(float64(im.rows.Load()-rows0)/max(took.Seconds(), 1e-3)))
		}
	}
	im.refreshRanks(ctx)
	return importStats{files: im.files.Load(), skipped: im.skipped.Load(), rows: im.rows.Load()}, nil
}

// refreshRanks refreshes the rank marks of the sources whose features were
// written, once each now that no file of theirs is left, rather than on the
// first deep browser page. A failure leaves that lazy refresh to do it, so
// it is logged and the import still succeeds.
func (im *importer) refreshRanks(ctx context.Context) {
	im.wroteFeatures.Range(func(k, _ any) bool {
		s, t := k.([2]string), time.Now()
		if err := im.db.RefreshRankMarks(ctx, s[0], s[1]); err != nil {
			im.log.Warn("refresh rank marks", "model", s[0], "source", s[1], "err", err)
		} else {
			im.log.Info("refreshed rank marks", "model", s[0], "source", s[1], "took", time.Since(t).Round(time.Millisecond))
		}
		return true
	})
}

// progress shows a bar with rows/s and ETA on a terminal, or logs a line
// every 10 s otherwise. The returned func stops it.
func (im *importer) progress(ctx context.Context, w io.Writer, total int64) func() {
	start := time.Now()
	rate := func() float64 { return float64(im.rows.Load()) / max(time.Since(start).Seconds(), 1e-3) }
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		bar := pb.New64(total).Set(pb.Bytes, true).SetWriter(w).SetRefreshRate(200 * time.Millisecond)
		bar.SetTemplateString(`{{string . "rows"}} {{bar . }} {{percent . }} {{rtime . "ETA %s"}}`)
		bar.Start()
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					bar.SetCurrent(im.doneBytes.Load())
					bar.Set("rows", fmt.Sprintf("%d rows, %.0f rows/s", im.rows.Load(), rate()))
				}
			}
		}()
		return func() {
			close(done)
			wg.Wait()
			bar.SetCurrent(im.doneBytes.Load())
			bar.Set("rows", fmt.Sprintf("%d rows, %.0f rows/s", im.rows.Load(), rate()))
			bar.Finish()
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				done := im.doneBytes.Load()
				eta := "unknown"
				if done > 0 {
					eta = (time.Duration(float64(time.Since(start)) * float64(total-done) / float64(done))).Round(time.Second).String()
				}
				im.log.Info("importing", "files", im.files.Load(), "skipped", im.skipped.Load(), "rows", im.rows.Load(),
					"rows_per_s", int(rate()), "bytes_done", done, "bytes_total", total, "eta", eta)
			}
		}
	}()
	return cancel
}

// loadMeta upserts a source folder's release, model, source set and
// source rows (cheap and idempotent, so done on every run).
func (im *importer) loadMeta(ctx context.Context, sd *npexport.SourceDir) error {
	meta, err := npexport.ReadMeta(sd.Path)
	if err != nil {
		return err
	}
	where := func(name string, err error) error {
		return &npexport.FileError{Path: filepath.Join(sd.Path, name), Line: 1, Err: errors.New(features.ErrorMessage(err))}
	}
	if meta.Release != nil {
		if err := im.db.UpsertRelease(ctx, meta.Release); err != nil {
			return where("release.jsonl", err)
		}
	}
	if meta.Model != nil {
		if err := im.db.UpsertModel(ctx, meta.Model); err != nil {
			return where("model.jsonl", err)
		}
	}
	if meta.SourceSet != nil {
		if meta.SourceSet.ReleaseName != nil && meta.Release == nil {
			if _, err := im.db.GetRelease(ctx, *meta.SourceSet.ReleaseName); err != nil {
				meta.SourceSet.ReleaseName = nil // the release was not exported: keep the set
			}
		}
		if err := im.db.UpsertSourceSet(ctx, meta.SourceSet); err != nil {
			return where("sourceset.jsonl", err)
		}
	}
	if meta.Source != nil {
		if err := im.db.UpsertSource(ctx, meta.Source); err != nil {
			return where("source.jsonl", err)
		}
	}
	return nil
}

// lineError turns a store error about one feature into an error naming
// the input file and the line of that feature.
func lineError(path string, lines npexport.Lines, err error) error {
	if err == nil {
		return nil
	}
	if c := features.ErrorCode(err); c != features.ENOTFOUND && c != features.EINVALID {
		return fmt.Errorf("%s: %w", path, err)
	}
	line := 0
	var idx int
	msg := features.ErrorMessage(err)
	if _, scanErr := fmt.Sscanf(afterAt(msg), "%d", &idx); scanErr == nil {
		line = lines[idx]
	}
	if line == 0 {
		for _, l := range lines {
			if line == 0 || l < line {
				line = l
			}
		}
	}
	return &npexport.FileError{Path: path, Line: line, Err: errors.New(msg)}
}

// afterAt returns what follows the first "@source:" in a feature key
// message such as "feature m@6-res-jb:12 of activation ..." ("" if none).
func afterAt(msg string) string {
	for i := 0; i < len(msg); i++ {
		if msg[i] == '@' {
			for j := i; j < len(msg); j++ {
				if msg[j] == ':' {
					return msg[j+1:]
				}
				if msg[j] == ' ' {
					break
				}
			}
		}
	}
	return ""
}

func (im *importer) loadFile(ctx context.Context, u unit) error {
	f, err := npexport.ReadFile(u.path)
	if err != nil {
		return err
	}
	// The parsed rows copy what they keep from f.Data (TestParsedRowsOutliveRelease):
	// the next file of this worker can reuse its buffer.
	defer f.Release()
	model, source := "", ""
	if u.source != nil {
		model, source = u.source.ModelID, u.source.SourceID
	}
	if u.kind == "dashboard" {
		return im.loadDashboard(ctx, u, f)
	}
	cp := &features.Checkpoint{Job: im.job(model, source), Unit: u.rel, Hash: f.Hash}
	if done, err := im.db.Done(ctx, *cp); err != nil {
		return err
	} else if done {
		im.skipped.Add(1)
		return nil
	}
	var rows int
	switch u.kind {
	case "features":
		fs, lines, err := npexport.ParseFeatures(f, model, source)
		if err != nil {
			return err
		}
		err = im.db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: model, SourceID: source, Features: fs, Checkpoint: cp})
		if features.ErrorCode(err) == features.ENOTFOUND {
			// the source row is neither in the folder nor in the database
			return lineError(u.path, lines, features.Errorf(features.ENOTFOUND, "%s: no source.jsonl in %s and no such source in the database",
				features.ErrorMessage(err), u.source.Path))
		}
		if err != nil {
			return lineError(u.path, lines, err)
		}
		im.wroteFeatures.Store([2]string{model, source}, true)
		rows = len(fs)
	case "activations":
		acts, lines, err := npexport.ParseActivations(f, model, source)
		if err != nil {
			return err
		}
		if err := im.db.WriteActivationBatch(ctx, acts, cp); err != nil {
			return lineError(u.path, lines, err)
		}
		rows = len(acts)
	case "explanations":
		exps, lines, err := npexport.ParseExplanations(f, model, source)
		if err != nil {
			return err
		}
		if err := im.db.WriteExplanations(ctx, exps, cp); err != nil {
			return lineError(u.path, lines, err)
		}
		rows = len(exps)
	}
	im.rows.Add(int64(rows))
	im.files.Add(1)
	im.log.Debug("imported", "file", u.path, "rows", rows)
	return nil
}

// loadDashboard imports one SAEDashboard batch file, creating its model,
// source set and source when they do not exist yet.
func (im *importer) loadDashboard(ctx context.Context, u unit, f *npexport.File) error {
	st, err := os.Stat(u.path)
	if err != nil {
		return err
	}
	d, err := npexport.ParseDashboard(f, st.ModTime())
	if err != nil {
		return err
	}
	cp := &features.Checkpoint{Job: im.job(d.ModelID, d.SourceID), Unit: u.rel, Hash: f.Hash}
	if done, err := im.db.Done(ctx, *cp); err != nil {
		return err
	} else if done {
		im.skipped.Add(1)
		return nil
	}
	if _, err := im.db.GetModel(ctx, d.ModelID); features.ErrorCode(err) == features.ENOTFOUND {
		err = im.db.UpsertModel(ctx, &features.Model{ID: d.ModelID, DisplayName: d.ModelID, DisplayNameShort: d.ModelID})
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	sets, err := im.db.ListSourceSets(ctx, d.ModelID)
	if err != nil {
		return err
	}
	hasSet := false
	for _, s := range sets {
		hasSet = hasSet || s.Name == d.SetName
	}
	if !hasSet {
		if err := im.db.UpsertSourceSet(ctx, &features.SourceSet{ModelID: d.ModelID, Name: d.SetName, Type: "sae", HasDashboards: true}); err != nil {
			return err
		}
	}
	if _, err := im.db.GetSource(ctx, d.ModelID, d.SourceID); features.ErrorCode(err) == features.ENOTFOUND {
		err = im.db.UpsertSource(ctx, &features.Source{ModelID: d.ModelID, ID: d.SourceID, SetName: d.SetName, HasDashboards: true,
			NumPrompts: d.NumPrompts, NumTokensInPrompt: d.NumTokensInPrompt, Dataset: d.Dataset})
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	err = im.db.WriteFeatures(ctx, &features.FeatureBatch{ModelID: d.ModelID, SourceID: d.SourceID, Features: d.Features, Checkpoint: cp})
	if err != nil {
		return lineError(u.path, d.Lines, err)
	}
	im.wroteFeatures.Store([2]string{d.ModelID, d.SourceID}, true)
	n := len(d.Features)
	for _, ft := range d.Features {
		n += len(ft.Activations)
	}
	im.rows.Add(int64(n))
	im.files.Add(1)
	return nil
}
