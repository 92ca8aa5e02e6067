package npexport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SourceDir is one {model}/{source} folder of a Neuronpedia export.
type SourceDir struct {
	Path         string
	ModelID      string // from source.jsonl, else the parent folder's name
	SourceID     string // from source.jsonl, else the folder's name
	Features     []string
	Activations  []string
	Explanations []string
}

// Found is what Discover finds under an import root.
type Found struct {
	Sources    []*SourceDir
	Dashboards []string // SAEDashboard batch files (*.json)
}

var batchFile = regexp.MustCompile(`^batch-(\d+)\.jsonl(\.gz)?$`)

func isSourceDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "source.jsonl")); err == nil {
		return true
	}
	for _, sub := range []string{"features", "activations", "explanations"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// Discover finds Neuronpedia source folders and SAEDashboard batch files
// under root, which may be the layout's root (model folders), one model
// folder, one source folder, a folder of SAEDashboard output, or one file.
func Discover(root string) (*Found, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	found := &Found{}
	if !st.IsDir() {
		if strings.HasSuffix(root, ".json") {
			found.Dashboards = append(found.Dashboards, root)
			return found, nil
		}
		return nil, fmt.Errorf("%s: not a folder or a .json batch file", root)
	}
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if isSourceDir(dir) {
			sd, err := readSourceDir(dir)
			if err != nil {
				return err
			}
			found.Sources = append(found.Sources, sd)
			return nil
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case e.IsDir() && depth < 4:
				if err := walk(p, depth+1); err != nil {
					return err
				}
			case !e.IsDir() && strings.HasSuffix(e.Name(), ".json") && e.Name() != "run_settings.json" && e.Name() != "skipped_indexes.json":
				found.Dashboards = append(found.Dashboards, p)
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	sort.Strings(found.Dashboards)
	if len(found.Sources) == 0 && len(found.Dashboards) == 0 {
		return nil, fmt.Errorf("%s: no Neuronpedia export folders or SAEDashboard batch files found", root)
	}
	return found, nil
}

func readSourceDir(dir string) (*SourceDir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sd := &SourceDir{Path: dir, SourceID: filepath.Base(abs), ModelID: filepath.Base(filepath.Dir(abs))}
	// source.jsonl names the source authoritatively.
	if data, err := os.ReadFile(filepath.Join(dir, "source.jsonl")); err == nil {
		var row struct {
			ID      string `json:"id"`
			ModelID string `json:"modelId"`
		}
		first := true
		err := eachLine(data, func(line int, b []byte) error {
			if !first {
				return nil
			}
			first = false
			return decodeLine(filepath.Join(dir, "source.jsonl"), line, b, &row)
		})
		if err != nil {
			return nil, err
		}
		if row.ID != "" {
			sd.SourceID = row.ID
		}
		if row.ModelID != "" {
			sd.ModelID = row.ModelID
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, sub := range []struct {
		name string
		dst  *[]string
	}{{"features", &sd.Features}, {"activations", &sd.Activations}, {"explanations", &sd.Explanations}} {
		entries, err := os.ReadDir(filepath.Join(dir, sub.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if !e.IsDir() && batchFile.MatchString(e.Name()) {
				*sub.dst = append(*sub.dst, filepath.Join(sub.name, e.Name()))
			}
		}
		sort.Slice(*sub.dst, func(i, j int) bool { return batchNum((*sub.dst)[i]) < batchNum((*sub.dst)[j]) })
	}
	return sd, nil
}

func batchNum(p string) int {
	m := batchFile.FindStringSubmatch(filepath.Base(p))
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
