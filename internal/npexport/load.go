package npexport

import (
	"fmt"
	"path/filepath"

	"saex/internal/features"
)

// LoadSource reads a whole source folder into memory: metadata and every
// feature (ascending file order) with its examples and explanations. It is
// meant for tests and small exports; the importer streams file by file.
func LoadSource(dir string) (*Meta, []*features.Feature, error) {
	meta, err := ReadMeta(dir)
	if err != nil {
		return nil, nil, err
	}
	sd, err := readSourceDir(dir)
	if err != nil {
		return nil, nil, err
	}
	byIdx := map[int]*features.Feature{}
	var order []*features.Feature
	for _, p := range sd.Features {
		f, err := ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, nil, err
		}
		fs, _, err := ParseFeatures(f, sd.ModelID, sd.SourceID)
		if err != nil {
			return nil, nil, err
		}
		for _, ft := range fs {
			byIdx[ft.Index] = ft
			order = append(order, ft)
		}
	}
	for _, p := range sd.Activations {
		f, err := ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, nil, err
		}
		as, lines, err := ParseActivations(f, sd.ModelID, sd.SourceID)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range as {
			ft := byIdx[a.Index]
			if ft == nil {
				return nil, nil, &FileError{Path: f.Path, Line: lines[a.Index], Err: fmt.Errorf("activation of feature %d, which has no features row", a.Index)}
			}
			ft.Activations = append(ft.Activations, a)
		}
	}
	for _, p := range sd.Explanations {
		f, err := ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, nil, err
		}
		es, lines, err := ParseExplanations(f, sd.ModelID, sd.SourceID)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range es {
			ft := byIdx[e.Index]
			if ft == nil {
				return nil, nil, &FileError{Path: f.Path, Line: lines[e.Index], Err: fmt.Errorf("explanation of feature %d, which has no features row", e.Index)}
			}
			ft.Explanations = append(ft.Explanations, e)
		}
	}
	return meta, order, nil
}
