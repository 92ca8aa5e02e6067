// Package kernel is saex's float32 matrix-multiplication kernel: a blocked,
// register-tiled GEMM over a right-hand matrix packed once into 64-column
// panels, with AVX-512 and AVX2+FMA assembly micro-kernels chosen at run time
// and a portable pure-Go fallback, plus a GEMV path for a single row and a
// tile-streaming entry point (MatMulTiles) that lets callers fuse bias,
// activation and top-k selection without materialising the product.
//
// The implementation is chosen once per process: the best one the CPU supports,
// unless the build tag purego or the environment variable SAEX_KERNEL
// (purego, avx2 or avx512) says otherwise. Impl reports the choice.
//
// Shape mismatches are programmer errors in this internal package and panic
// with a message naming the argument; callers validate user input first.
package kernel

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// panelWidth is the number of columns in one packed panel of B. Every
// implementation uses the same layout, so a Packed matrix works with all of
// them (the AVX2 kernel walks a panel in four 16-column strips).
const panelWidth = 64

// Packed is a K×N float32 matrix (row-major B, e.g. W_enc [d_in,d_sae] or a
// Conv1D weight [in,out]) packed once into panels for the micro-kernels.
//
// Layout: panel p holds columns [64p, 64p+64) as K consecutive rows of 64
// floats (zero-padded past N), and panels follow one another. A Packed value is
// immutable after packing and safe for concurrent use.
//
// A matrix packed from 16-bit data (PackBF16, PackF16 and their Transposed
// forms) keeps the same layout in 16-bit elements (half instead of data),
// except that a bf16 row's columns are paired up for the kernels (slot16),
// and is widened to float32 by the kernel as it is read; see Elem.
type Packed struct {
	k, n   int
	panels int
	elem   Elem
	data   []float32 // F32: panels*k*panelWidth values, 64-byte aligned
	half   []uint16  // BF16, F16: the same layout in 16-bit elements
}

// K returns the number of rows of the packed matrix (the inner dimension).
func (p *Packed) K() int { return p.k }

// N returns the number of columns of the packed matrix (the output width).
func (p *Packed) N() int { return p.n }

// panel returns the k×64 panel holding columns [64j, 64j+64).
func (p *Packed) panel(j int) []float32 {
	sz := p.k * panelWidth
	return p.data[j*sz : (j+1)*sz : (j+1)*sz]
}

// alignedFloats returns a zeroed slice of n float32 whose first element is
// 64-byte aligned, so that full-width vector loads never split cache lines.
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := 0
	if r := uintptr(unsafe.Pointer(unsafe.SliceData(buf))) % 64; r != 0 {
		off = int((64 - r) / 4)
	}
	return buf[off : off+n : off+n]
}

func newPacked(k, n int) *Packed {
	if k <= 0 || n <= 0 {
		panic(fmt.Sprintf("kernel: pack of a %dx%d matrix: both dimensions must be positive", k, n))
	}
	panels := (n + panelWidth - 1) / panelWidth
	data := alignedFloats(panels * k * panelWidth)
	adviseHugePages(data)
	return &Packed{k: k, n: n, panels: panels, data: data}
}

// Pack packs the row-major K×N matrix b (len k*n) into panels.
func Pack(b []float32, k, n int) *Packed {
	if len(b) != k*n {
		panic(fmt.Sprintf("kernel: Pack: len(b)=%d, want k*n=%d*%d=%d", len(b), k, n, k*n))
	}
	p := newPacked(k, n)
	for j := 0; j < p.panels; j++ {
		c0 := j * panelWidth
		w := min(panelWidth, n-c0)
		dst := p.panel(j)
		for r := 0; r < k; r++ {
			copy(dst[r*panelWidth:r*panelWidth+w], b[r*n+c0:r*n+c0+w])
		}
	}
	return p
}

// PackTransposed packs the K×N matrix whose transpose bT (N×K, row-major,
// len n*k) is given, e.g. a [vocab, d] embedding used as W_U = wte^T, or the
// rows of W_dec for cosine-similarity blocks.
func PackTransposed(bT []float32, k, n int) *Packed {
	if len(bT) != k*n {
		panic(fmt.Sprintf("kernel: PackTransposed: len(bT)=%d, want n*k=%d*%d=%d", len(bT), n, k, k*n))
	}
	p := newPacked(k, n)
	// Walk bT in 64-row strips and scatter each row into the panel's columns;
	// a strip of 64 source rows is written by one panel, which keeps the
	// destination lines hot.
	for j := 0; j < p.panels; j++ {
		c0 := j * panelWidth
		w := min(panelWidth, n-c0)
		dst := p.panel(j)
		for c := 0; c < w; c++ {
			src := bT[(c0+c)*k : (c0+c+1)*k]
			for r, v := range src {
				dst[r*panelWidth+c] = v
			}
		}
	}
	return p
}

// MatMul computes c[m×n] = a[m×k] @ B (+ bias[n] broadcast over rows when bias
// != nil). All matrices are row-major and c is fully overwritten. It uses all
// worker threads; m == 1 takes the GEMV path.
func MatMul(c, a []float32, m int, b *Packed, bias []float32) {
	checkMatMul("MatMul", c, a, m, b, bias)
	matMul(active, c, a, m, b, bias, false)
}

// MatMulAdd computes c[m×n] += a[m×k] @ B (+ bias[n] broadcast over rows when
// bias != nil): a residual connection fused into the product, so the sum
// never needs a buffer or a separate pass.
func MatMulAdd(c, a []float32, m int, b *Packed, bias []float32) {
	checkMatMul("MatMulAdd", c, a, m, b, bias)
	matMul(active, c, a, m, b, bias, true)
}

// MatMulTiles streams the product a[m×k] @ B without materialising it: for
// each output tile it calls fn with rows [row0,row0+rows) and columns
// [col0,col0+cols), tile holding rows×cols values with leading dimension ld
// (element (r,c) at tile[r*ld+c]). Calls run concurrently on up to Threads()
// workers (worker in [0,Threads())), never concurrently for the same worker;
// every (row, column) is delivered exactly once. The tile is only valid during
// the call. Tiles are 64 columns wide or more where n allows.
func MatMulTiles(a []float32, m int, b *Packed, fn func(worker, row0, rows, col0, cols int, tile []float32, ld int)) {
	checkMatMul("MatMulTiles", nil, a, m, b, nil)
	if fn == nil {
		panic("kernel: MatMulTiles: nil fn")
	}
	matMulTiles(active, a, m, b, fn)
}

func checkMatMul(fn string, c, a []float32, m int, b *Packed, bias []float32) {
	if b == nil {
		panic("kernel: " + fn + ": nil packed matrix")
	}
	if m <= 0 {
		panic(fmt.Sprintf("kernel: %s: m=%d, want > 0", fn, m))
	}
	if len(a) != m*b.k {
		panic(fmt.Sprintf("kernel: %s: len(a)=%d, want m*k=%d*%d=%d", fn, len(a), m, b.k, m*b.k))
	}
	if c != nil && len(c) != m*b.n {
		panic(fmt.Sprintf("kernel: %s: len(c)=%d, want m*n=%d*%d=%d", fn, len(c), m, b.n, m*b.n))
	}
	if bias != nil && len(bias) != b.n {
		panic(fmt.Sprintf("kernel: %s: len(bias)=%d, want n=%d", fn, len(bias), b.n))
	}
}

var threads atomic.Int64 // 0 means runtime.GOMAXPROCS(0)

// Threads returns the number of workers a product is split over (default
// runtime.GOMAXPROCS(0)).
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// SetThreads sets the worker count and returns the previous value of Threads;
// n <= 0 restores the default (runtime.GOMAXPROCS(0)).
func SetThreads(n int) int {
	prev := Threads()
	threads.Store(int64(max(n, 0)))
	return prev
}

// AtLeastIndices writes to idx, in increasing order, every j < len(v) with
// v[j]+bias[j] >= thr and returns how many it wrote; bias and idx must be
// at least as long as v. The sum is the float32 addition scalar Go does, so
// the result equals a plain loop's, except that a NaN sum never matches. It
// is the vectorised prefilter of a fused SAE encode.
func AtLeastIndices(v, bias []float32, thr float32, idx []int32) int {
	if len(bias) < len(v) || len(idx) < len(v) {
		panic(fmt.Sprintf("kernel: AtLeastIndices: len(bias)=%d, len(idx)=%d < len(v)=%d", len(bias), len(idx), len(v)))
	}
	return active.gather(v, bias, thr, idx)
}

// Impl reports which implementation this process dispatches to: "avx512",
// "avx2" or "purego".
func Impl() string { return active.name }
