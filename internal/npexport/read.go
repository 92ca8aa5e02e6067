package npexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"saex/internal/features"
)

// FileError is bad input located in a file (and a line, when known).
type FileError struct {
	Path string
	Line int // 1-based; 0 when unknown
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// File is an input file read into memory with its content hash.
type File struct {
	Path string
	Data []byte // decompressed content
	Hash string // sha256 of the bytes on disk

	buf *bytes.Buffer // Data's storage when it came from bufPool
}

// bufPool holds the buffers that *.gz files are inflated into. An import
// reads files of ~10 MB one after another: a fresh buffer each was ~10 MB
// to allocate, zero and collect per file, and ~3 % of the import's CPU.
var bufPool sync.Pool // of *bytes.Buffer

// gzPool holds gzip readers, which Reset reuses with their inflate state.
var gzPool sync.Pool // of *gzip.Reader

// Release hands f's buffer back for the next ReadFile to reuse: f.Data
// must not be used afterwards, nor anything that aliases it. The parsers
// of this package copy what they keep (ParseActivations' tokens are
// substrings of a per-line string, not of f.Data), so a caller may release
// a file once its rows are parsed. Not calling Release is always safe.
func (f *File) Release() {
	if f.buf != nil {
		f.Data = nil
		bufPool.Put(f.buf)
		f.buf = nil
	}
}

// ReadFile reads path, gunzipping *.gz files; a truncated or corrupt gzip
// stream is an error naming the file. klauspost's gzip inflates ~10 %
// faster than compress/gzip (a sixth of an import's CPU is inflating).
func ReadFile(path string) (*File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	f := &File{Path: path, Hash: hex.EncodeToString(sum[:]), Data: raw}
	if strings.HasSuffix(path, ".gz") {
		zr, _ := gzPool.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		defer gzPool.Put(zr)
		if err := zr.Reset(bytes.NewReader(raw)); err != nil {
			return nil, &FileError{Path: path, Err: fmt.Errorf("not a gzip file: %w", err)}
		}
		buf, _ := bufPool.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		buf.Reset()
		buf.Grow(len(raw) * 6)
		if _, err := io.Copy(buf, zr); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("truncated gzip stream")
			}
			return nil, &FileError{Path: path, Line: bytes.Count(buf.Bytes(), []byte{'\n'}) + 1, Err: fmt.Errorf("corrupt gzip: %w", err)}
		}
		f.Data, f.buf = buf.Bytes(), buf
	}
	return f, nil
}

// eachLine calls fn with every non-blank line and its 1-based number.
func eachLine(data []byte, fn func(line int, b []byte) error) error {
	line := 0
	for len(data) > 0 {
		line++
		var b []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			b, data = data[:i], data[i+1:]
		} else {
			b, data = data, nil
		}
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if err := fn(line, b); err != nil {
			return err
		}
	}
	return nil
}

func decodeLine(path string, line int, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return &FileError{Path: path, Line: line, Err: describeJSONError(err)}
	}
	return nil
}

func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		// embedded domain structs show up as "Feature.x": drop the Go name
		if i := strings.LastIndexByte(field, '.'); i >= 0 && i+1 < len(field) && field[0] >= 'A' && field[0] <= 'Z' {
			field = field[i+1:]
		}
		if field == "" {
			field = "(top level)"
		}
		return fmt.Errorf("field %s: %s cannot hold a JSON %s", field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("bad JSON at byte %d: %v", se.Offset, se)
	}
	return err
}

// Lines maps a feature index to the line that first named it, so store
// errors can point back at the input.
type Lines map[int]int

// keyChecker checks rows' keys; the model and source ids of a file's rows
// are all the same, so it validates them (a regexp) once.
type keyChecker struct{ model, source string } // the last ids found valid

func (kc *keyChecker) check(path string, line int, modelID, sourceID string, index int, wantModel, wantSource string) error {
	if modelID == "" || sourceID == "" {
		return &FileError{Path: path, Line: line, Err: errors.New("row has no modelId or layer")}
	}
	if wantModel != "" && (modelID != wantModel || sourceID != wantSource) {
		return &FileError{Path: path, Line: line, Err: fmt.Errorf("row of %s@%s:%d in the folder of %s/%s", modelID, sourceID, index, wantModel, wantSource)}
	}
	if modelID == kc.model && sourceID == kc.source && features.ValidIndex(index) {
		return nil
	}
	if err := (features.FeatureKey{ModelID: modelID, SourceID: sourceID, Index: index}).Validate(); err != nil {
		return &FileError{Path: path, Line: line, Err: err}
	}
	kc.model, kc.source = modelID, sourceID
	return nil
}

// ParseFeatures parses a features/batch-N.jsonl file. With wantModel and
// wantSource set, rows of another source are errors.
func ParseFeatures(f *File, wantModel, wantSource string) ([]*features.Feature, Lines, error) {
	var out []*features.Feature
	lines := Lines{}
	var kc keyChecker
	err := eachLine(f.Data, func(line int, b []byte) error {
		var r featureRow
		if !decodeFeatureFast(b, &r) {
			r = featureRow{}
			if err := decodeLine(f.Path, line, b, &r); err != nil {
				return err
			}
		}
		ft := r.domain()
		if err := kc.check(f.Path, line, ft.ModelID, ft.SourceID, ft.Index, wantModel, wantSource); err != nil {
			return err
		}
		if _, dup := lines[ft.Index]; dup {
			return &FileError{Path: f.Path, Line: line, Err: fmt.Errorf("feature %d appears twice (first on line %d)", ft.Index, lines[ft.Index])}
		}
		lines[ft.Index] = line
		out = append(out, ft)
		return nil
	})
	return out, lines, err
}

// ParseActivations parses an activations/batch-N.jsonl file.
func ParseActivations(f *File, wantModel, wantSource string) ([]*features.Activation, Lines, error) {
	var out []*features.Activation
	lines := Lines{}
	var kc keyChecker
	err := eachLine(f.Data, func(line int, b []byte) error {
		var r activationRow
		if !decodeActivationFast(b, &r) {
			r = activationRow{}
			if err := decodeLine(f.Path, line, b, &r); err != nil {
				return err
			}
		}
		a := r.domain()
		if err := kc.check(f.Path, line, a.ModelID, a.SourceID, a.Index, wantModel, wantSource); err != nil {
			return err
		}
		if err := checkActivation(a); err != nil {
			return &FileError{Path: f.Path, Line: line, Err: err}
		}
		if _, ok := lines[a.Index]; !ok {
			lines[a.Index] = line
		}
		out = append(out, a)
		return nil
	})
	return out, lines, err
}

func checkActivation(a *features.Activation) error {
	if len(a.Values) != len(a.Tokens) {
		return fmt.Errorf("activation %q has %d tokens but %d values", a.ID, len(a.Tokens), len(a.Values))
	}
	if len(a.Tokens) > 0 && (a.MaxValueTokenIndex < 0 || a.MaxValueTokenIndex >= len(a.Tokens)) {
		return fmt.Errorf("activation %q: maxValueTokenIndex %d outside its %d tokens", a.ID, a.MaxValueTokenIndex, len(a.Tokens))
	}
	return nil
}

// ParseExplanations parses an explanations/batch-N.jsonl file.
func ParseExplanations(f *File, wantModel, wantSource string) ([]*features.Explanation, Lines, error) {
	var out []*features.Explanation
	lines := Lines{}
	var kc keyChecker
	err := eachLine(f.Data, func(line int, b []byte) error {
		var r explanationRow
		if err := decodeLine(f.Path, line, b, &r); err != nil {
			return err
		}
		e := r.domain()
		if err := kc.check(f.Path, line, e.ModelID, e.SourceID, e.Index, wantModel, wantSource); err != nil {
			return err
		}
		if len(e.Embedding) != 0 && len(e.Embedding) != features.EmbeddingDim {
			return &FileError{Path: f.Path, Line: line, Err: fmt.Errorf("explanation %q: embedding has %d values, want %d", e.ID, len(e.Embedding), features.EmbeddingDim)}
		}
		if _, ok := lines[e.Index]; !ok {
			lines[e.Index] = line
		}
		out = append(out, e)
		return nil
	})
	return out, lines, err
}

// Meta is a source folder's metadata files; any may be nil when its file
// is absent.
type Meta struct {
	Release   *features.Release
	Model     *features.Model
	SourceSet *features.SourceSet
	Source    *features.Source
}

// ReadMeta reads release.jsonl, model.jsonl, sourceset.jsonl and
// source.jsonl of a source folder (the first row of each).
func ReadMeta(dir string) (*Meta, error) {
	m := &Meta{}
	read := func(name string, v any) (bool, error) {
		path := dir + "/" + name
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		found := false
		err = eachLine(data, func(line int, b []byte) error {
			if found {
				return nil
			}
			found = true
			return decodeLine(path, line, b, v)
		})
		return found, err
	}
	var rel releaseRow
	if ok, err := read("release.jsonl", &rel); err != nil {
		return nil, err
	} else if ok {
		r := rel.Release
		r.CreatedAt = rel.CreatedAt.Time
		nilEmpty(&r)
		m.Release = &r
	}
	var mod modelRow
	if ok, err := read("model.jsonl", &mod); err != nil {
		return nil, err
	} else if ok {
		x := mod.Model
		x.CreatedAt, x.UpdatedAt = mod.CreatedAt.Time, mod.UpdatedAt.Time
		m.Model = &x
	}
	var ss sourceSetRow
	if ok, err := read("sourceset.jsonl", &ss); err != nil {
		return nil, err
	} else if ok {
		x := ss.SourceSet
		x.CreatedAt = ss.CreatedAt.Time
		nilEmpty(&x)
		m.SourceSet = &x
	}
	var src sourceRow
	if ok, err := read("source.jsonl", &src); err != nil {
		return nil, err
	} else if ok {
		x := src.Source
		x.CreatedAt = src.CreatedAt.Time
		x.Build = nil
		nilEmpty(&x)
		m.Source = &x
	}
	return m, nil
}
