package kernel

// microGo is the portable micro-kernel: the same mr×64 panel block as the
// assembly kernels, computed as 2×4 register tiles of scalar accumulators (the
// Go compiler keeps at most ~14 float values in registers, so larger tiles
// spill). The slicing of one a segment and one b row per step lets the
// compiler drop the per-element bounds checks.
func microGo(mr, kc int, a []float32, lda int, b, c []float32, ldc, mode int, bias []float32, _ pfStream) {
	_ = a[(mr-1)*lda+kc-1]
	_ = b[kc*panelWidth-1]
	for j := 0; j < panelWidth; j += 4 {
		i := 0
		for ; i+1 < mr; i += 2 {
			tile2x4(kc, a[i*lda:i*lda+kc], a[(i+1)*lda:(i+1)*lda+kc], b[j:], c[i*ldc+j:], ldc, mode, bias, j)
		}
		if i < mr {
			tile1x4(kc, a[i*lda:i*lda+kc], b[j:], c[i*ldc+j:], mode, bias, j)
		}
	}
}

func initRow4(c []float32, mode int, bias []float32, j int) (x0, x1, x2, x3 float32) {
	switch mode {
	case modeBias:
		bb := bias[j : j+4]
		return bb[0], bb[1], bb[2], bb[3]
	case modeLoad:
		cc := c[:4]
		return cc[0], cc[1], cc[2], cc[3]
	case modeAddBias:
		cc, bb := c[:4], bias[j:j+4]
		return cc[0] + bb[0], cc[1] + bb[1], cc[2] + bb[2], cc[3] + bb[3]
	}
	return 0, 0, 0, 0
}

func tile2x4(kc int, a0s, a1s, b, c []float32, ldc, mode int, bias []float32, j int) {
	c00, c01, c02, c03 := initRow4(c, mode, bias, j)
	c10, c11, c12, c13 := initRow4(c[ldc:], mode, bias, j)
	a0s, a1s = a0s[:kc], a1s[:kc]
	for k := range a0s {
		bk := b[k*panelWidth : k*panelWidth+4]
		a0, a1 := a0s[k], a1s[k]
		b0, b1, b2, b3 := bk[0], bk[1], bk[2], bk[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	r0 := c[:4]
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1 := c[ldc : ldc+4]
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}

func tile1x4(kc int, a0s, b, c []float32, mode int, bias []float32, j int) {
	c00, c01, c02, c03 := initRow4(c, mode, bias, j)
	for k, a0 := range a0s[:kc] {
		bk := b[k*panelWidth : k*panelWidth+4]
		c00 += a0 * bk[0]
		c01 += a0 * bk[1]
		c02 += a0 * bk[2]
		c03 += a0 * bk[3]
	}
	r0 := c[:4]
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
}
