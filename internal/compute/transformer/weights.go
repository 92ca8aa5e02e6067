package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"saex/internal/compute/tensor"
)

// weightSource fetches a tensor by its checkpoint name, converted to
// float32, with its shape checked; errors name the file and the tensor.
type weightSource interface {
	has(name string) bool
	get(name string, shape ...int) ([]float32, error)
	origin() string // the file to name in errors
}

// fileSet is one safetensors file or the shards of an index, with a
// tensor-name index.
type fileSet struct {
	path  string // model.safetensors or the index file, for errors
	files []*tensor.File
	where map[string]*tensor.File
}

func (s *fileSet) close() {
	for _, f := range s.files {
		f.Close()
	}
}

func (s *fileSet) origin() string { return s.path }

func (s *fileSet) has(name string) bool { _, ok := s.where[name]; return ok }

func (s *fileSet) get(name string, shape ...int) ([]float32, error) {
	f, ok := s.where[name]
	if !ok {
		return nil, fmt.Errorf("transformer: %s: tensor %q is missing", s.path, name)
	}
	return f.Float32(name, shape...)
}

// openWeights opens model.safetensors, or the shards that
// model.safetensors.index.json lists (every tensor the index names must be
// in the shard it names).
func openWeights(dir string) (*fileSet, error) {
	single := filepath.Join(dir, "model.safetensors")
	s := &fileSet{path: single, where: map[string]*tensor.File{}}
	if _, err := os.Stat(single); err == nil {
		f, err := tensor.OpenSafetensors(single)
		if err != nil {
			return nil, err
		}
		s.add(f)
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	idx := filepath.Join(dir, "model.safetensors.index.json")
	s.path = idx
	weightMap, err := readIndex(dir, idx)
	if err != nil {
		return nil, err
	}
	shards := map[string]*tensor.File{}
	var names []string
	for _, shard := range weightMap {
		if _, ok := shards[shard]; !ok {
			shards[shard] = nil
			names = append(names, shard)
		}
	}
	sort.Strings(names)
	for _, shard := range names {
		f, err := tensor.OpenSafetensors(filepath.Join(dir, shard))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("transformer: shard %s listed in %s: %w", shard, idx, err)
		}
		shards[shard] = f
		s.add(f)
	}
	for name, shard := range weightMap {
		if _, ok := shards[shard].Info(name); !ok {
			s.close()
			return nil, fmt.Errorf("transformer: %s: weight_map puts tensor %q in %s, which does not hold it", idx, name, shard)
		}
		s.where[name] = shards[shard]
	}
	return s, nil
}

func (s *fileSet) add(f *tensor.File) {
	s.files = append(s.files, f)
	for _, n := range f.Names() {
		s.where[n] = f
	}
}

// readIndex reads weight_map from a sharded checkpoint's index file.
func readIndex(dir, idx string) (map[string]string, error) {
	data, err := os.ReadFile(idx)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("transformer: %s has neither model.safetensors nor model.safetensors.index.json (pytorch_model.bin is not supported)", dir)
	}
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		return nil, fmt.Errorf("transformer: %s: %w", idx, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("transformer: %s: weight_map is missing or empty", idx)
	}
	for name, shard := range index.WeightMap {
		if shard != filepath.Base(shard) || shard == "" || shard == "." || shard == ".." {
			return nil, fmt.Errorf("transformer: %s: weight_map[%q] = %q is not a file name in the directory", idx, name, shard)
		}
	}
	return index.WeightMap, nil
}
