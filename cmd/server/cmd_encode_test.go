package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"saex/internal/compute/tensor"
)

// execEncodeCLI runs a subcommand through the dispatcher; it returns
// stdout and the error.
func execEncodeCLI(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	return stdout.String(), err
}

type encodeJSON struct {
	FeatureActs    json.RawMessage `json:"feature_acts"`
	Reconstruction [][]float32     `json:"reconstruction"`
}

func maxRelErr(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i]-want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

func TestEncodeCommandGoldenFormats(t *testing.T) {
	dirs, _ := filepath.Glob("../../testdata/golden/sae-formats/*")
	if len(dirs) == 0 {
		t.Fatal("no sae-formats fixtures")
	}
	// The released layouts (Llama Scope, EleutherAI, Gemma Scope folders).
	for _, pat := range []string{"*", "*/*", "*/*/*/*"} {
		more, _ := filepath.Glob("../../internal/compute/sae/testdata/formats/" + pat + "/expected.safetensors")
		for _, m := range more {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	for _, dir := range dirs {
		exp := filepath.Join(dir, "expected.safetensors")
		f, err := tensor.OpenSafetensors(exp)
		if err != nil {
			t.Fatal(err)
		}
		wantActs, _ := f.Float32("feature_acts")
		wantRecon, _ := f.Float32("reconstruction")
		info, _ := f.Info("feature_acts")
		f.Close()
		n, dsae := info.Shape[0], info.Shape[1]
		tol := 1e-4
		if strings.HasSuffix(dir, "bf16") {
			tol = 5e-3
		}

		out, err := execEncodeCLI("encode", "--sae", dir, "--input", exp, "--tensor", "input", "--dense", "--reconstruct")
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var got encodeJSON
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		var dense [][]float32
		if err := json.Unmarshal(got.FeatureActs, &dense); err != nil || len(dense) != n {
			t.Fatalf("%s: dense feature_acts: %v (%d rows)", dir, err, len(dense))
		}
		var flatActs, flatRecon []float32
		for _, r := range dense {
			flatActs = append(flatActs, r...)
		}
		for _, r := range got.Reconstruction {
			flatRecon = append(flatRecon, r...)
		}
		if len(flatActs) != n*dsae || len(flatRecon) != len(wantRecon) {
			t.Fatalf("%s: sizes %d, %d", dir, len(flatActs), len(flatRecon))
		}
		if e := maxRelErr(flatActs, wantActs); e > tol {
			t.Errorf("%s: feature_acts relative error %.3g", dir, e)
		}
		if e := maxRelErr(flatRecon, wantRecon); e > tol {
			t.Errorf("%s: reconstruction relative error %.3g", dir, e)
		}

		// Sparse form: same non-zeros, sorted, no reconstruction key.
		out, err = execEncodeCLI("encode", "--sae", dir, "--input", exp, "--tensor", "input")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "reconstruction") {
			t.Errorf("%s: reconstruction printed without --reconstruct", dir)
		}
		var sp struct {
			FeatureActs []struct {
				Indices []int     `json:"indices"`
				Values  []float32 `json:"values"`
			} `json:"feature_acts"`
		}
		if err := json.Unmarshal([]byte(out), &sp); err != nil || len(sp.FeatureActs) != n {
			t.Fatalf("%s: sparse output: %v", dir, err)
		}
		for r, row := range sp.FeatureActs {
			nz := 0
			for j := 0; j < dsae; j++ {
				if wantActs[r*dsae+j] != 0 {
					nz++
				}
			}
			if len(row.Indices) != nz || len(row.Values) != nz {
				t.Errorf("%s row %d: %d features, want %d", dir, r, len(row.Indices), nz)
				continue
			}
			for j, idx := range row.Indices {
				if math.Abs(float64(row.Values[j]-dense[r][idx])) > 0 || (j > 0 && row.Values[j] > row.Values[j-1]) {
					t.Errorf("%s row %d: sparse entry %d (%d=%v) disagrees with dense or is out of order", dir, r, j, idx, row.Values[j])
				}
			}
		}
	}
}

func TestEncodeCommandModelText(t *testing.T) {
	ref, err := tensor.OpenSafetensors("../../testdata/golden/demo-reference/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	wantIdx, _ := ref.Int64("p0.sae.blocks.2.hook_resid_pre.top_indices")
	wantVal, _ := ref.Float32("p0.sae.blocks.2.hook_resid_pre.top_values")
	out, err := execEncodeCLI("encode", "--sae", "../../demo/demo-gpt2-4l/saes/blocks.2.hook_resid_pre",
		"--model", "../../demo/demo-gpt2-4l/model", "--text", "The quick brown fox jumps over the lazy dog.")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		FeatureActs []struct {
			Indices []int64   `json:"indices"`
			Values  []float32 `json:"values"`
		} `json:"feature_acts"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.FeatureActs) != 21 { // 20 tokens + BOS
		t.Fatalf("%d rows, want 21 (BOS prepended)", len(got.FeatureActs))
	}
	for r, row := range got.FeatureActs {
		if len(row.Indices) != 32 {
			t.Fatalf("row %d: %d features", r, len(row.Indices))
		}
		for j := range 32 {
			w := wantVal[r*32+j]
			// The model's float32 forward pass differs from the float64
			// reference by ~1e-5; allow that, and order swaps of near-ties.
			if math.Abs(float64(row.Values[j]-w)) > 1e-3*math.Max(1, math.Abs(float64(w))) {
				t.Errorf("row %d rank %d: value %v, want %v", r, j, row.Values[j], w)
			}
			if row.Indices[j] != wantIdx[r*32+j] {
				near := (j > 0 && math.Abs(float64(w-wantVal[r*32+j-1])) < 1e-3) || (j < 31 && math.Abs(float64(w-wantVal[r*32+j+1])) < 1e-3)
				if !near {
					t.Errorf("row %d rank %d: index %d, want %d", r, j, row.Indices[j], wantIdx[r*32+j])
				}
			}
		}
	}
}

func TestEncodeCommandErrors(t *testing.T) {
	sae := "../../testdata/golden/sae-formats/topk"
	exp := sae + "/expected.safetensors"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"encode"}, "--sae is required"},
		{[]string{"encode", "--sae", sae}, "either --model and --text, or --input and --tensor"},
		{[]string{"encode", "--sae", sae, "--input", exp}, "--input and --tensor go together"},
		{[]string{"encode", "--sae", sae, "--model", "x"}, "--model and --text go together"},
		{[]string{"encode", "--sae", sae, "--input", exp, "--tensor", "input", "--text", "hi"}, "either"},
		{[]string{"encode", "--sae", sae, "--input", exp, "--tensor", "nope"}, `no tensor "nope"`},
		{[]string{"encode", "--sae", sae, "--input", exp, "--tensor", "feature_acts"}, "d_in"},
		{[]string{"encode", "--sae", sae, "--input", sae + "/cfg.json", "--tensor", "input"}, "cfg.json"},
		{[]string{"encode", "--sae", "../../testdata", "--input", exp, "--tensor", "input"}, "not an SAE directory"},
		{[]string{"encode", "--sae", sae, "--model", "../../demo/demo-gpt2-4l/model", "--text", "hi"}, "hook"},
	}
	for _, c := range cases {
		out, err := execEncodeCLI(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
		if out != "" {
			t.Errorf("%v: printed %q on error", c.args, out)
		}
	}
}
