package tensor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Hugging Face's file names for a model's weights in its folder: one file,
// or shards listed by an index whose weight_map maps each tensor name to
// the shard file holding it.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Checkpoint is a model's weights as one safetensors file or a sharded set
// (model-00001-of-00004.safetensors, ...), with tensors looked up by name
// across the shards. Every shard is memory-mapped and validated on open.
// It is safe for concurrent readers; Close must not race with them.
type Checkpoint struct {
	path   string           // the index (or single file), for errors
	shards []*File          // in file-name order
	byName map[string]*File // tensor name -> the shard holding it
	names  []string
}

// OpenCheckpoint opens the weights in a Hugging Face model folder:
// model.safetensors.index.json with its shards when the index exists, else
// model.safetensors.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); err == nil {
		return OpenIndex(index)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	single := filepath.Join(dir, SingleFileName)
	f, err := OpenSafetensors(single)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s or %s in the folder", dir, IndexFileName, SingleFileName)
		}
		return nil, err
	}
	return checkpointOf(single, f), nil
}

// checkpointOf wraps an open single file as a Checkpoint (which then owns it).
func checkpointOf(path string, f *File) *Checkpoint {
	c := &Checkpoint{path: path, shards: []*File{f}, byName: make(map[string]*File, len(f.names)), names: f.Names()}
	for _, n := range f.names {
		c.byName[n] = f
	}
	return c
}

// OpenIndex opens a sharded checkpoint from its index file; the shards are
// the files its weight_map names, in the index's folder. Every shard must
// exist and parse, and hold every tensor the weight_map puts in it.
func OpenIndex(indexPath string) (*Checkpoint, error) {
	data, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	wm, err := ParseIndex(indexPath, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	c := &Checkpoint{path: indexPath, byName: make(map[string]*File, len(wm))}
	files := map[string]*File{}
	var shardNames []string
	for _, s := range wm {
		if _, ok := files[s]; !ok {
			files[s] = nil
			shardNames = append(shardNames, s)
		}
	}
	sort.Strings(shardNames)
	for _, s := range shardNames {
		f, err := OpenSafetensors(filepath.Join(dir, s))
		if err != nil {
			c.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: weight_map names shard %q, which is missing: %w", indexPath, s, err)
			}
			return nil, fmt.Errorf("%s: shard %q: %w", indexPath, s, err)
		}
		files[s] = f
		c.shards = append(c.shards, f)
	}
	names := make([]string, 0, len(wm))
	for name := range wm {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := files[wm[name]]
		if _, ok := f.tensors[name]; !ok {
			c.Close()
			return nil, fmt.Errorf("%s: weight_map puts tensor %q in %s, which has no such tensor", indexPath, name, f.path)
		}
		c.byName[name] = f
	}
	c.names = names
	return c, nil
}

// ParseIndex validates a model.safetensors.index.json held in memory (name
// is used in errors) and returns its weight_map: tensor name -> shard file
// name. Shard names must be plain file names (no folders, not "." or
// ".."), so an index cannot point outside its folder; a tensor may appear
// only once.
func ParseIndex(name string, data []byte) (map[string]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
	}
	if top == nil {
		return nil, fmt.Errorf("%s: not a JSON object", name)
	}
	if md, ok := top["metadata"]; ok && !bytes.Equal(bytes.TrimSpace(md), []byte("null")) {
		var m map[string]any
		if err := json.Unmarshal(md, &m); err != nil {
			return nil, fmt.Errorf("%s: field metadata: want an object: %w", name, err)
		}
	}
	raw, ok := top["weight_map"]
	if !ok {
		return nil, fmt.Errorf("%s: field weight_map: missing", name)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%s: field weight_map: want an object of tensor name to shard file", name)
	}
	wm := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: field weight_map: %w", name, err)
		}
		tensor, _ := tok.(string) // object keys are always strings
		if _, dup := wm[tensor]; dup {
			return nil, fmt.Errorf("%s: field weight_map: tensor %q listed twice", name, tensor)
		}
		var shard string
		if err := dec.Decode(&shard); err != nil {
			return nil, fmt.Errorf("%s: field weight_map: tensor %q: want a shard file name: %w", name, tensor, err)
		}
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) || strings.ContainsRune(shard, 0) {
			return nil, fmt.Errorf("%s: field weight_map: tensor %q: shard %q must be a file name in the index's folder", name, tensor, shard)
		}
		wm[tensor] = shard
	}
	if len(wm) == 0 {
		return nil, fmt.Errorf("%s: field weight_map: empty", name)
	}
	return wm, nil
}

// Path returns the index (or single file) the checkpoint was opened from.
func (c *Checkpoint) Path() string { return c.path }

// Names returns the tensor names, sorted.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Shards returns the shard paths in order (one path for a single file).
func (c *Checkpoint) Shards() []string {
	out := make([]string, len(c.shards))
	for i, f := range c.shards {
		out[i] = f.Path()
	}
	return out
}

// Info returns the dtype and shape of the named tensor.
func (c *Checkpoint) Info(name string) (Info, bool) {
	f, ok := c.byName[name]
	if !ok {
		return Info{}, false
	}
	return f.Info(name)
}

// Float32 converts the named tensor to float32 (File.Float32 on its shard).
func (c *Checkpoint) Float32(name string, shape ...int) ([]float32, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name, shape...)
}

// Uint16s returns the named 16-bit tensor in place (File.Uint16s on its
// shard; valid until Close).
func (c *Checkpoint) Uint16s(name string, shape ...int) ([]uint16, DType, error) {
	f, err := c.shard(name)
	if err != nil {
		return nil, "", err
	}
	return f.Uint16s(name, shape...)
}

// Release drops the named tensor's pages from the resident set
// (File.Release on its shard).
func (c *Checkpoint) Release(name string) error {
	f, ok := c.byName[name]
	if !ok {
		return nil
	}
	return f.Release(name)
}

func (c *Checkpoint) shard(name string) (*File, error) {
	if c.byName == nil {
		return nil, fmt.Errorf("%s: checkpoint is closed", c.path)
	}
	f, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: no tensor %q in any shard (have %s)", c.path, name, summarizeNames(c.names))
	}
	return f, nil
}

// Close unmaps every shard; views from Uint16s become invalid.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.shards {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.shards, c.byName = nil, nil
	return first
}
