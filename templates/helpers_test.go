package templates

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestDisplayToken(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		" lead":        " lead",
		"a\nb":         "a↵b",
		"\t":           "⇥",
		"nul\x00":      "nul␀",
		"bell\x07":     "bell␇",
		"del\x7f":      "del␡",
		"bad\xff\xfe!": "bad\uFFFD\uFFFD!", // one placeholder per byte that starts no character
		" \xE2\x88":    " \uFFFD",          // "∞" cut short: one placeholder
		"▁the":         " the",             // SentencePiece's space
		"<b>&":         "<b>&",             // escaping is the renderer's job
	} {
		if got := DisplayToken(in); got != want {
			t.Errorf("DisplayToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// Issue 11 defect 2: pieces of characters split across tokens are shown
// merged as the characters, never as byte escapes.
func TestTokensMergeSplitCharacters(t *testing.T) {
	// "Привет ∞ 🍕" as a byte-level tokenizer may split it.
	toks := []string{"\xD0", "\x9F", "ривет", " \xE2\x88", "\x9E", " \xF0\x9F", "\x8D", "\x95", "!"}
	vals := []float32{0, 2, 0, 1, 3, 0, 0, 0.5, 0}
	got := TokensMarked(toks, vals, 4, 4)
	var texts []string
	for _, v := range got {
		texts = append(texts, v.Text)
	}
	if j := strings.Join(texts, "|"); j != "П|ривет| ∞| 🍕|!" {
		t.Fatalf("views %q, want the characters merged", j)
	}
	if got[0].Title != "2 tokens: 0 2.000" || !strings.Contains(got[0].Class, "a") {
		t.Errorf("merged П: title %q class %q, want each token's value and the larger highlight", got[0].Title, got[0].Class)
	}
	if got[2].Title != "2 tokens: 1.000 3.000" || !strings.HasSuffix(got[2].Class, " q") {
		t.Errorf("merged ∞: title %q class %q, want values and the mark of token 4", got[2].Title, got[2].Class)
	}
	if got[3].Title != "3 tokens: 0 0 0.500" {
		t.Errorf("merged 🍕: title %q", got[3].Title)
	}
	// A piece whose character cannot be completed keeps a placeholder.
	lone := Tokens([]string{"a", "\xE2\x88", "b"}, nil, 1)
	if len(lone) != 3 || lone[1].Text != "\uFFFD" {
		t.Errorf("lone piece: %+v", lone)
	}
	if p := PieceAt(toks, 4); p != " ∞" {
		t.Errorf("PieceAt(4) = %q, want \" ∞\"", p)
	}
	if p := PieceAt(toks, 2); p != "ривет" {
		t.Errorf("PieceAt(2) = %q", p)
	}
}

func TestHighlightLevel(t *testing.T) {
	cases := []struct {
		v, max float64
		want   int
	}{{0, 10, 0}, {-1, 10, 0}, {1, 0, 0}, {10, 10, 20}, {20, 10, 20}, {0.001, 10, 1}, {5, 10, 15}}
	for _, c := range cases {
		if got := HighlightLevel(c.v, c.max); got != c.want {
			t.Errorf("HighlightLevel(%g, %g) = %d, want %d", c.v, c.max, got, c.want)
		}
	}
}

func TestTokensAndTokenRow(t *testing.T) {
	toks := Tokens([]string{"<a>", " x", "\n", "  ", "end"}, []float32{10, 0, 1, 0, 0}, 10)
	want := []TokenView{
		{Text: "<a>", Class: "a20", Title: "10.000"},
		{Text: " x"},
		{Text: "↵", Class: "a6 nl", Title: "1.000"},
		{Text: "  ", Class: "ws"},
		{Text: "end"},
	}
	for i := range want {
		if toks[i] != want[i] {
			t.Errorf("token %d: %+v, want %+v", i, toks[i], want[i])
		}
	}
	var b bytes.Buffer
	if err := TokenRow(toks).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	wantHTML := `<span class="toks"><span class="a20" title="10.000">&lt;a&gt;</span><span> x</span><span class="a6 nl" title="1.000">↵</span><span class="ws">  </span><span>end</span></span>`
	if got != wantHTML {
		t.Errorf("TokenRow:\n got %s\nwant %s", got, wantHTML)
	}
	if strings.Contains(got, "<a>") {
		t.Error("token markup not escaped")
	}
}

func TestHistogramAndSparkline(t *testing.T) {
	if NewHistogram("x", nil, nil, false) != nil || NewHistogram("x", []float64{0, 0}, []float64{1, 2}, false) != nil {
		t.Error("empty histograms should not draw")
	}
	h := NewHistogram("logits", []float64{1, 4, 2}, []float64{-1, 0, 1}, true)
	if len(h.Bars) != 3 || h.Bars[0].Class != "neg" || h.Bars[2].Class != "pos" || h.Bars[1].H != "90.0" || h.ZeroX != "180.0" {
		t.Errorf("histogram: %+v", h)
	}
	// Issue 11 defect 5: the axis is labelled with the bins' edges, the
	// tallest bar starts below the count printed above it, and each bar's
	// hover gives its range.
	a := NewHistogram("acts", []float64{3, 1, 5, 2}, []float64{0.5, 1.5, 2.5, 3.5}, false)
	if a.MinLabel != "0" || a.MaxLabel != "4.000" {
		t.Errorf("axis labels %q .. %q, want the edges 0 .. 4.000", a.MinLabel, a.MaxLabel)
	}
	if y, _ := strconv.ParseFloat(a.Bars[2].Y, 64); y < float64(a.Top) || a.Top < 12 {
		t.Errorf("tallest bar at y %v, above the label row ending at %d", y, a.Top)
	}
	if a.Bars[1].Title != "1.000 to 2.000: 1" {
		t.Errorf("bar title %q", a.Bars[1].Title)
	}
	s := NewSparkline([]float32{0, 2, 1}, 0)
	if s.Width != 9 || len(s.Dots) != 2 || !strings.HasPrefix(s.Points, "1.5,22.0 4.5,2.0") {
		t.Errorf("sparkline: %+v", s)
	}
}

// Issue 11 defect 8: one density format, no exponents.
func TestPercent(t *testing.T) {
	for frac, want := range map[float64]string{
		0: "0%", 0.25: "25.00%", 0.012: "1.20%", 0.0093: "0.930%", 0.00002: "0.0020%",
		0.0000093: "0.00093%", 0.00000001234: "0.0000012%",
	} {
		if got := Percent(frac); got != want {
			t.Errorf("Percent(%g) = %q, want %q", frac, got, want)
		}
	}
}

// HistogramSVG is written by hand: its markup must stay what the templ
// template it replaced wrote (escaping included), byte for byte.
func TestHistogramSVGMarkup(t *testing.T) {
	h := NewHistogram(`a<b & "c"`, []float64{1, 0, 4}, []float64{-1, 0, 1}, true)
	h.Bars[0].Title = "<x>'"
	var b strings.Builder
	if err := HistogramSVG(h).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := `<figure class="hist"><svg viewBox="0 0 360 122" width="360" height="122" role="img" aria-label="a&lt;b &amp; &#34;c&#34;">` +
		`<title>a&lt;b &amp; &#34;c&#34;</title>` +
		`<rect class="neg" x="0.0" y="81.5" width="119.0" height="22.5"><title>&lt;x&gt;&#39;</title></rect> ` +
		`<rect class="pos" x="120.0" y="104.0" width="119.0" height="0.0"><title>-0.500 to 0.500: 0</title></rect> ` +
		`<rect class="pos" x="240.0" y="14.0" width="119.0" height="90.0"><title>0.500 to 1.500: 4</title></rect> ` +
		`<line class="zero" x1="180.0" x2="180.0" y1="14" y2="104"></line> <line class="axis" x1="0" x2="360" y1="104" y2="104"></line> ` +
		`<text class="lbl" x="0" y="118">-1.500</text> <text class="lbl" x="360" y="118" text-anchor="end">1.500</text> ` +
		`<text class="lbl top" x="2" y="10">tallest bin 4</text></svg><figcaption>a&lt;b &amp; &#34;c&#34;</figcaption></figure>`
	if got := b.String(); got != want {
		t.Errorf("HistogramSVG:\n got %s\nwant %s", got, want)
	}
	b.Reset()
	if err := HistogramSVG(nil).Render(context.Background(), &b); err != nil || b.Len() != 0 {
		t.Errorf("nil histogram: %q, %v", b.String(), err)
	}
}

// appendCount is FormatFloat(v, 'f', -1, 64) with a fast path for whole
// numbers; the edges of that path must print the same.
func TestAppendCount(t *testing.T) {
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -3, 4.5, 0.1, 1e6, 1e20, 1 << 53, 1<<53 - 1, -(1 << 53),
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got, want := string(appendCount(nil, v)), strconv.FormatFloat(v, 'f', -1, 64); got != want {
			t.Errorf("appendCount(%v) = %q, want %q", v, got, want)
		}
	}
}
