package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPackInto checks that the strided packers give Pack's layout, reuse a
// large enough destination and zero its padding.
func TestPackInto(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var dst, dstT *Packed
	for _, sh := range []struct{ k, n int }{{70, 130}, {64, 64}, {3, 5}, {128, 64}} {
		ld := sh.n + 7
		wide := randMat(r, sh.k*ld)
		b := make([]float32, sh.k*sh.n)
		for i := range sh.k {
			copy(b[i*sh.n:(i+1)*sh.n], wide[i*ld:i*ld+sh.n])
		}
		want := Pack(b, sh.k, sh.n)
		dst = PackInto(dst, wide, ld, sh.k, sh.n)
		if dst.k != sh.k || dst.n != sh.n || !slices.Equal(dst.data, want.data) {
			t.Errorf("PackInto %dx%d differs from Pack", sh.k, sh.n)
		}
		// The transpose of b, stored with a wider stride.
		ldT := sh.k + 3
		bT := make([]float32, sh.n*ldT)
		for i := range sh.k {
			for j := range sh.n {
				bT[j*ldT+i] = b[i*sh.n+j]
			}
		}
		dstT = PackTransposedInto(dstT, bT, ldT, sh.k, sh.n)
		if !slices.Equal(dstT.data, want.data) {
			t.Errorf("PackTransposedInto %dx%d differs from Pack", sh.k, sh.n)
		}
	}
}

// TestMatMulSerial checks strided products against the float64 reference,
// and the causal variants on the elements they promise.
func TestMatMulSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, im := range supportedImpls() {
		prev := active
		active = im
		for _, sh := range []struct{ m, k, n int }{{128, 64, 128}, {7, 5, 64}, {13, 13, 13}, {100, 64, 100}, {64, 100, 70}} {
			for _, tri := range []Triangle{Full, LowerOut, LowerA} {
				if tri != Full && sh.k != sh.m && tri == LowerA {
					continue // LowerA needs a square a
				}
				lda, ldc := sh.k+5, sh.n+9
				a := randMat(r, sh.m*lda)
				if tri == LowerA {
					for i := range sh.m {
						for k := i + 1; k < sh.k; k++ {
							a[i*lda+k] = 0
						}
					}
				}
				dense := make([]float32, sh.m*sh.k)
				for i := range sh.m {
					copy(dense[i*sh.k:(i+1)*sh.k], a[i*lda:i*lda+sh.k])
				}
				bmat := randMat(r, sh.k*sh.n)
				want, scale := reference(dense, bmat, sh.m, sh.k, sh.n, nil)
				c := make([]float32, sh.m*ldc)
				for i := range c {
					c[i] = float32(math.NaN())
				}
				MatMulSerial(c, ldc, a, lda, sh.m, Pack(bmat, sh.k, sh.n), tri)
				got := make([]float32, sh.m*sh.n)
				for i := range sh.m {
					for j := range sh.n {
						v := c[i*ldc+j]
						if tri == LowerOut && j > i {
							v = float32(want[i*sh.n+j]) // undefined: not checked
						}
						got[i*sh.n+j] = v
					}
					for j := sh.n; j < ldc; j++ {
						if !math.IsNaN(float64(c[i*ldc+j])) {
							t.Fatalf("%s %v: wrote past column %d of row %d", im.name, sh, sh.n, i)
						}
					}
				}
				checkClose(t, fmt.Sprintf("%s serial %v tri=%d", im.name, sh, tri), got, want, scale, sh.k, sh.n)
			}
		}
		active = prev
	}
}
