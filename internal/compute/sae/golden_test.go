package sae

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"saex/internal/compute/tensor"
)

const root = "../../../"

// relErr is the largest |got-want| over the tensor divided by the largest
// |want| (so near-zero entries are judged against the tensor's scale).
func relErr(got, want []float32) float64 {
	var maxDiff, maxWant float64
	for i := range want {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
		maxWant = math.Max(maxWant, math.Abs(float64(want[i])))
	}
	if maxWant == 0 {
		return maxDiff
	}
	return maxDiff / maxWant
}

// elemErr is the worst per-element error relative to max(|want|, 1e-2*scale):
// entries far below the tensor's scale are judged absolutely, since float32
// arithmetic cannot give them a relative accuracy (a layer_norm
// reconstruction near zero is a difference of two large numbers).
func elemErr(got, want []float32) (float64, int) {
	var scale float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(float64(w)))
	}
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		e := d / math.Max(math.Abs(float64(want[i])), 1e-2*scale)
		if e > worst {
			worst, at = e, i
		}
	}
	return worst, at
}

func readExpected(t *testing.T, dir string) (in, acts, recon []float32, n int) {
	t.Helper()
	f, err := tensor.OpenSafetensors(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Info("input")
	n = info.Shape[0]
	must := func(v []float32, err error) []float32 {
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	return must(f.Float32("input")), must(f.Float32("feature_acts")), must(f.Float32("reconstruction")), n
}

func TestGoldenFormats(t *testing.T) {
	dirs, _ := filepath.Glob(root + "testdata/golden/sae-formats/*")
	if len(dirs) != 12 {
		t.Fatalf("found %d sae-formats cases, want 12", len(dirs))
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			s, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-4
			if name == "standard-bf16" {
				tol = 5e-3
			}
			in, wantActs, wantRecon, n := readExpected(t, dir)
			dense, err := s.EncodeDense(in, n)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(dense, wantActs); e > tol {
				t.Errorf("feature_acts: relative error %.3g > %g", e, tol)
			}
			e, at := elemErr(dense, wantActs)
			if e > tol {
				t.Errorf("feature_acts: element %d relative error %.3g > %g", at, e, tol)
			}
			t.Logf("feature_acts: tensor-relative %.2g, worst element-relative %.2g at %d", relErr(dense, wantActs), e, at)
			// Every non-zero expected activation is present, and no others.
			for i := range wantActs {
				if (wantActs[i] == 0) != (dense[i] == 0) {
					t.Errorf("row %d feature %d: got %v, want %v", i/s.Cfg.DSAE, i%s.Cfg.DSAE, dense[i], wantActs[i])
				}
			}
			recon, err := s.Reconstruct(in, n)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(recon, wantRecon); e > tol {
				t.Errorf("reconstruction: relative error %.3g > %g", e, tol)
			}
			if e, at := elemErr(recon, wantRecon); e > tol {
				t.Errorf("reconstruction: element %d relative error %.3g > %g", at, e, tol)
			}
			sparse, err := s.EncodeSparse(in, n)
			if err != nil {
				t.Fatal(err)
			}
			checkSorted(t, sparse)
			if got := s.Densify(sparse); relErr(got, dense) != 0 {
				t.Error("sparse and dense encodes differ")
			}
		})
	}
}

func checkSorted(t *testing.T, f []Sparse) {
	t.Helper()
	for r, sp := range f {
		for j := 1; j < len(sp.Values); j++ {
			if !better(cand{sp.Values[j-1], sp.Indices[j-1]}, cand{sp.Values[j], sp.Indices[j]}) {
				t.Fatalf("row %d not sorted at %d: %v", r, j, sp)
			}
		}
		for _, v := range sp.Values {
			if !(v > 0) {
				t.Fatalf("row %d lists a non-positive value %v", r, v)
			}
		}
	}
}

func TestDemoReference(t *testing.T) {
	ref, err := tensor.OpenSafetensors(root + "testdata/golden/demo-reference/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, layer := range []int{1, 2, 3} {
		hook := fmt.Sprintf("blocks.%d.hook_resid_pre", layer)
		s, err := Load(root + "demo/demo-gpt2-4l/saes/" + hook)
		if err != nil {
			t.Fatal(err)
		}
		if s.Sparsity == nil || len(s.Sparsity) != s.Cfg.DSAE {
			t.Errorf("%s: sparsity not loaded", hook)
		}
		for p := 0; p < 6; p++ {
			x, err := ref.Float32(fmt.Sprintf("p%d.%s", p, hook))
			if err != nil {
				t.Fatal(err)
			}
			n := len(x) / s.Cfg.DIn
			key := fmt.Sprintf("p%d.sae.%s", p, hook)
			wantIdx, err := ref.Int64(key+".top_indices", n, 32)
			if err != nil {
				t.Fatal(err)
			}
			wantVal, err := ref.Float32(key+".top_values", n, 32)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.EncodeSparse(x, n)
			if err != nil {
				t.Fatal(err)
			}
			checkSorted(t, got)
			for r := 0; r < n; r++ {
				g := got[r]
				if len(g.Indices) != 32 {
					t.Errorf("%s row %d: %d features, want 32", key, r, len(g.Indices))
					continue
				}
				wv, wi := wantVal[r*32:(r+1)*32], wantIdx[r*32:(r+1)*32]
				for j := 0; j < 32; j++ {
					if d := math.Abs(float64(g.Values[j] - wv[j])); d > 1e-4*math.Max(math.Abs(float64(wv[j])), 1) {
						t.Errorf("%s row %d rank %d: value %v, want %v", key, r, j, g.Values[j], wv[j])
					}
					if int64(g.Indices[j]) != wi[j] {
						// Allowed only where the reference's neighbouring values are within 1e-4 (an order swap).
						near := (j > 0 && math.Abs(float64(wv[j]-wv[j-1])) < 1e-4) || (j < 31 && math.Abs(float64(wv[j]-wv[j+1])) < 1e-4)
						if !near {
							t.Errorf("%s row %d rank %d: index %d, want %d (value %v)", key, r, j, g.Indices[j], wi[j], wv[j])
						}
					}
				}
			}
			if p < 2 {
				pre, err := s.PreActivations(x, n)
				if err != nil {
					t.Fatal(err)
				}
				want, err := ref.Float32(key+".pre_acts", n, s.Cfg.DSAE)
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr(pre, want); e > 1e-4 {
					t.Errorf("%s pre_acts: relative error %.3g", key, e)
				}
			}
		}
	}
}
