package kernel

import "os"

// Initialisation modes of a micro-kernel's accumulators.
const (
	modeZero = 0 // start from zero
	modeBias = 1 // start from bias[0:64] in every row
	modeLoad = 2 // start from the current contents of c (a later K chunk)
	// modeAddBias starts from c + bias[0:64]: the first K chunk of a product
	// added onto c (MatMulAdd, a residual connection).
	modeAddBias = 3
)

// mrBlock is the row-block height: the driver hands the micro-kernels blocks
// of mrBlock rows of A (the last block of a matrix may be shorter) and every
// micro-kernel handles 1..mrBlock rows.
const mrBlock = 6

// impl is one implementation of the micro-kernel the driver is built on.
type impl struct {
	name string
	// micro computes an mr×64 block (1 <= mr <= mrBlock) of one panel:
	// c[i*ldc+j] = init + sum_k a[i*lda+k] * b[k*64+j] over k < kc, where
	// init depends on mode (zero, bias[j], c itself, or c+bias[j]). a is read
	// in place (row-major with leading dimension lda: A is never packed), b
	// is a panel slice with row stride 64.
	// pf is a stream of lines to prefetch meanwhile (pfStream).
	micro func(mr, kc int, a []float32, lda int, b, c []float32, ldc, mode int, bias []float32, pf pfStream)
	// micro16 is micro for a 16-bit panel of element type elem (BF16 or
	// F16), widened as it is read; nil when the implementation has none,
	// and then the driver widens B chunks with widen and calls micro.
	micro16 func(elem Elem, mr, kc int, a []float32, lda int, b []uint16, c []float32, ldc, mode int, bias []float32, pf pfStream)
	// widen converts whole rows of a 16-bit panel of type elem (len(dst)
	// a multiple of 64, src in the slot16 order) to float32 rows in column
	// order (widenPanelGo when nil).
	widen func(dst []float32, src []uint16, elem Elem)
	// gather writes every j with v[j]+bias[j] >= thr to idx, in order, and
	// returns how many; len(bias), len(idx) >= len(v).
	gather func(v, bias []float32, thr float32, idx []int32) int
}

// pfStream asks a micro-kernel to prefetch, into L2, kc/2 lines (every
// other k step of its unrolled loop; none for kc < 4) starting at p and step
// bytes apart: the B the caller will read next, streamed from DRAM while the
// kernel computes. The zero value prefetches nothing (the kernel then
// touches one idle line, always cached). A prefetch never faults, so the
// addresses need not be valid; the portable kernel ignores the stream.
type pfStream struct {
	p    *byte
	step int
}

// pfIdle is the line a kernel with nothing to prefetch touches.
var pfIdle [64]byte

// args returns the stream's start and step for the assembly kernels.
func (s pfStream) args() (*byte, int) {
	if s.p == nil {
		return &pfIdle[0], 0
	}
	return s.p, s.step
}

var implPurego = &impl{name: "purego", micro: microGo, widen: widenPanelGo,
	gather: func(v, bias []float32, thr float32, idx []int32) int { return gatherGo(v, bias, thr, idx, 0) }}

// active is the implementation this process dispatches to.
var active, activeForced = selectImpl(os.Getenv("SAEX_KERNEL"))

// supportedImpls lists the implementations this CPU and build support, best
// first; purego is always last.
func supportedImpls() []*impl {
	return append(asmImpls(), implPurego)
}

// selectImpl picks the best supported implementation unless the build tag
// purego or want (the value of SAEX_KERNEL) names a supported one. A value
// naming an unsupported or unknown implementation falls back to the best one,
// so a forced run on an older CPU still works; forced reports whether the
// choice was made by tag or environment.
func selectImpl(want string) (im *impl, forced bool) {
	impls := supportedImpls()
	if buildPurego {
		return implPurego, true
	}
	for _, im := range impls {
		if want != "" && im.name == want {
			return im, true
		}
	}
	return impls[0], false
}
