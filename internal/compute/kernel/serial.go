package kernel

import "fmt"

// Triangle says which part of a product MatMulSerial may skip.
type Triangle int

const (
	// Full computes every element.
	Full Triangle = iota
	// LowerOut needs only c[i][j] with j <= i (causal attention scores):
	// 64-column panels entirely above the diagonal of a row block are
	// skipped, and elements above the diagonal are left undefined.
	LowerOut
	// LowerA declares a[i][k] == 0 for k > i (causal attention
	// probabilities): row i's products stop at k = i.
	LowerA
)

// PackInto packs the K×N matrix b, row r at b[r*ldb:], into dst's storage
// when it is large enough (else into a new Packed) and returns the result:
// for packing small per-call operands, such as an attention head's V out of
// the fused QKV rows, without allocating.
func PackInto(dst *Packed, b []float32, ldb, k, n int) *Packed {
	checkStrided("PackInto", b, ldb, k, n)
	p := reuse(dst, k, n)
	for j := 0; j < p.panels; j++ {
		c0 := j * panelWidth
		w := min(panelWidth, n-c0)
		dst := p.panel(j)
		for r := 0; r < k; r++ {
			copy(dst[r*panelWidth:r*panelWidth+w], b[r*ldb+c0:r*ldb+c0+w])
		}
	}
	return p
}

// PackTransposedInto is PackInto for the K×N matrix whose transpose (N×K,
// row c at bT[c*ldbT:]) is given, such as an attention head's Kᵀ.
func PackTransposedInto(dst *Packed, bT []float32, ldbT, k, n int) *Packed {
	checkStrided("PackTransposedInto", bT, ldbT, n, k)
	p := reuse(dst, k, n)
	for j := 0; j < p.panels; j++ {
		c0 := j * panelWidth
		w := min(panelWidth, n-c0)
		dst := p.panel(j)
		for c := 0; c < w; c++ {
			src := bT[(c0+c)*ldbT : (c0+c)*ldbT+k]
			for r, v := range src {
				dst[r*panelWidth+c] = v
			}
		}
	}
	return p
}

// reuse returns dst reshaped to k×n with its padding zeroed, or a new Packed
// when dst is nil or too small.
func reuse(dst *Packed, k, n int) *Packed {
	if k <= 0 || n <= 0 {
		panic(fmt.Sprintf("kernel: pack of a %dx%d matrix: both dimensions must be positive", k, n))
	}
	panels := (n + panelWidth - 1) / panelWidth
	if dst == nil || dst.elem != F32 || cap(dst.data) < panels*k*panelWidth {
		return newPacked(k, n)
	}
	dst.k, dst.n, dst.panels = k, n, panels
	dst.data = dst.data[:panels*k*panelWidth]
	if w := n % panelWidth; w != 0 { // the last panel's padding columns
		last := dst.panel(panels - 1)
		for r := 0; r < k; r++ {
			clear(last[r*panelWidth+w : (r+1)*panelWidth])
		}
	}
	return dst
}

// MatMulSerial computes c = a @ B on the calling goroutine only, for callers
// that run many small independent products in parallel themselves (the heads
// of an attention layer). a is m×K with row i at a[i*lda:], c is m×N with row
// i at c[i*ldc:]; both may be column windows of wider matrices. tri lets
// causal products skip their zero or unneeded triangle.
func MatMulSerial(c []float32, ldc int, a []float32, lda, m int, b *Packed, tri Triangle) {
	if b == nil {
		panic("kernel: MatMulSerial: nil packed matrix")
	}
	checkStrided("MatMulSerial (a)", a, lda, m, b.k)
	checkStrided("MatMulSerial (c)", c, ldc, m, b.n)
	im := active
	if b.elem != F32 {
		matMulSerial16(im, c, ldc, a, lda, m, b, tri)
		return
	}
	var tile []float32 // for a ragged last panel
	for rb := 0; rb < m; rb += mrBlock {
		mr := min(mrBlock, m-rb)
		kc := b.k
		if tri == LowerA {
			kc = min(kc, rb+mr)
		}
		ar := a[rb*lda : (rb+mr-1)*lda+kc]
		for p := 0; p < b.panels; p++ {
			c0 := p * panelWidth
			if tri == LowerOut && rb+mr-1 < c0 {
				break // this and later panels lie above the diagonal
			}
			bp := b.panel(p)[:kc*panelWidth]
			if w := b.n - c0; w < panelWidth {
				if tile == nil {
					tile = make([]float32, mrBlock*panelWidth)
				}
				im.micro(mr, kc, ar, lda, bp, tile, panelWidth, modeZero, nil, pfStream{})
				for i := range mr {
					copy(c[(rb+i)*ldc+c0:(rb+i)*ldc+c0+w], tile[i*panelWidth:i*panelWidth+w])
				}
				continue
			}
			im.micro(mr, kc, ar, lda, bp, c[rb*ldc+c0:(rb+mr-1)*ldc+c0+panelWidth], ldc, modeZero, nil, pfStream{})
		}
	}
}

// checkStrided panics unless x holds rows×cols values at row stride ld.
func checkStrided(fn string, x []float32, ld, rows, cols int) {
	if rows <= 0 || cols <= 0 || ld < cols || len(x) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("kernel: %s: %d values at stride %d cannot hold %dx%d", fn, len(x), ld, rows, cols))
	}
}

// matMulSerial16 is MatMulSerial for a 16-bit B: panel by panel, each
// widened once (unless the implementation widens as it reads) and used by
// every row block, with the same per-block K extents and skips as the
// float32 loop, so the results are the same.
func matMulSerial16(im *impl, c []float32, ldc int, a []float32, lda, m int, b *Packed, tri Triangle) {
	widen := im.widen
	if widen == nil {
		widen = widenPanelGo
	}
	micro16 := im.micro16
	if m > fuseMaxRows {
		micro16 = nil
	}
	var wide, tile []float32
	for p := 0; p < b.panels; p++ {
		c0 := p * panelWidth
		kMax := b.k
		if tri == LowerA {
			kMax = min(kMax, m)
		}
		if micro16 == nil {
			if wide == nil {
				wide = alignedFloats(kMax * panelWidth)
			}
			widen(wide, b.panel16(p)[:kMax*panelWidth], b.elem)
		}
		w := min(panelWidth, b.n-c0)
		for rb := 0; rb < m; rb += mrBlock {
			mr := min(mrBlock, m-rb)
			if tri == LowerOut && rb+mr-1 < c0 {
				continue // this panel lies above the diagonal of the block
			}
			kc := b.k
			if tri == LowerA {
				kc = min(kc, rb+mr)
			}
			ar := a[rb*lda : (rb+mr-1)*lda+kc]
			cs, ld := c[rb*ldc+c0:], ldc
			if w < panelWidth {
				if tile == nil {
					tile = make([]float32, mrBlock*panelWidth)
				}
				cs, ld = tile, panelWidth
			}
			cs = cs[:(mr-1)*ld+panelWidth]
			if micro16 != nil {
				micro16(b.elem, mr, kc, ar, lda, b.panel16(p)[:kc*panelWidth], cs, ld, modeZero, nil, pfStream{})
			} else {
				im.micro(mr, kc, ar, lda, wide[:kc*panelWidth], cs, ld, modeZero, nil, pfStream{})
			}
			if w < panelWidth {
				for i := range mr {
					copy(c[(rb+i)*ldc+c0:(rb+i)*ldc+c0+w], tile[i*panelWidth:i*panelWidth+w])
				}
			}
		}
	}
}
