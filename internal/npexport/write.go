package npexport

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"saex/internal/features"
)

// BatchSize is how many features (and their examples) one batch file
// holds, and how many explanation rows: Neuronpedia's 1024.
const BatchSize = 1024

// Writer writes one source folder of Neuronpedia's layout. Features must
// be added in ascending index order.
type Writer struct {
	dir       string
	featBatch int
	feat, act *jsonlGz
	expl      *jsonlGz
	explRows  int
	explBatch int
	lastIndex int
}

// NewWriter creates dir/{model}/{source} under dir's layout root and
// writes the metadata files (those of meta that are set).
func NewWriter(root string, meta *Meta) (*Writer, error) {
	if meta.Source == nil {
		return nil, fmt.Errorf("export needs the source row")
	}
	dir := filepath.Join(root, meta.Source.ModelID, meta.Source.ID)
	for _, sub := range []string{"features", "activations", "explanations"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	writeRow := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	if r := meta.Release; r != nil {
		row := releaseRow{Release: *r, CreatedAt: npTime{r.CreatedAt}}
		emptyNil(&row.Release)
		if err := writeRow("release.jsonl", row); err != nil {
			return nil, err
		}
	}
	if m := meta.Model; m != nil {
		if err := writeRow("model.jsonl", modelRow{Model: *m, CreatedAt: npTime{m.CreatedAt}, UpdatedAt: npTime{m.UpdatedAt}}); err != nil {
			return nil, err
		}
	}
	if s := meta.SourceSet; s != nil {
		row := sourceSetRow{SourceSet: *s, CreatedAt: npTime{s.CreatedAt}}
		emptyNil(&row.SourceSet)
		if err := writeRow("sourceset.jsonl", row); err != nil {
			return nil, err
		}
	}
	src := sourceRow{Source: *meta.Source, CreatedAt: npTime{meta.Source.CreatedAt}}
	src.Source.Build = nil
	if len(src.SAELensConfig) == 0 {
		src.SAELensConfig = json.RawMessage("null")
	}
	if err := writeRow("source.jsonl", src); err != nil {
		return nil, err
	}
	return &Writer{dir: dir, featBatch: -1, lastIndex: -1}, nil
}

// Dir is the source folder being written.
func (w *Writer) Dir() string { return w.dir }

// Add writes a feature, its examples and its explanations.
func (w *Writer) Add(f *features.Feature) error {
	if f.Index <= w.lastIndex {
		return fmt.Errorf("export: feature %d added after %d", f.Index, w.lastIndex)
	}
	w.lastIndex = f.Index
	if n := f.Index / BatchSize; n != w.featBatch {
		if err := w.closeFeatureBatch(); err != nil {
			return err
		}
		var err error
		if w.feat, err = createJSONLGz(filepath.Join(w.dir, "features", fmt.Sprintf("batch-%d.jsonl.gz", n))); err != nil {
			return err
		}
		if w.act, err = createJSONLGz(filepath.Join(w.dir, "activations", fmt.Sprintf("batch-%d.jsonl.gz", n))); err != nil {
			return err
		}
		w.featBatch = n
	}
	if err := w.feat.write(featureToRow(f)); err != nil {
		return err
	}
	for _, a := range f.Activations {
		if err := w.act.write(activationToRow(a)); err != nil {
			return err
		}
	}
	for _, e := range f.Explanations {
		if w.expl == nil || w.explRows == BatchSize {
			if w.expl != nil {
				if err := w.expl.close(); err != nil {
					return err
				}
				w.explBatch++
			}
			var err error
			if w.expl, err = createJSONLGz(filepath.Join(w.dir, "explanations", fmt.Sprintf("batch-%d.jsonl.gz", w.explBatch))); err != nil {
				return err
			}
			w.explRows = 0
		}
		if err := w.expl.write(explanationToRow(e)); err != nil {
			return err
		}
		w.explRows++
	}
	return nil
}

func (w *Writer) closeFeatureBatch() error {
	for _, z := range []*jsonlGz{w.feat, w.act} {
		if z != nil {
			if err := z.close(); err != nil {
				return err
			}
		}
	}
	w.feat, w.act = nil, nil
	return nil
}

// Close finishes the open batch files.
func (w *Writer) Close() error {
	err := w.closeFeatureBatch()
	if w.expl != nil {
		if e := w.expl.close(); err == nil {
			err = e
		}
		w.expl = nil
	}
	return err
}

// jsonlGz writes gzip'd JSON lines to a temporary name and renames on
// close, so a failed export never leaves a truncated batch file.
type jsonlGz struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	zw   *gzip.Writer
	enc  *json.Encoder
}

func createJSONLGz(path string) (*jsonlGz, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	zw, _ := gzip.NewWriterLevel(bw, 5) // Neuronpedia's level
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	return &jsonlGz{path: path, f: f, bw: bw, zw: zw, enc: enc}, nil
}

func (z *jsonlGz) write(v any) error {
	if err := z.enc.Encode(v); err != nil {
		return fmt.Errorf("%s: %w", z.path, err)
	}
	return nil
}

func (z *jsonlGz) close() error {
	err := z.zw.Close()
	if err == nil {
		err = z.bw.Flush()
	}
	if e := z.f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(z.path+".tmp", z.path)
	}
	return err
}
