package templates

import (
	"context"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
)

// Chart geometry, in SVG user units.
const (
	histWidth  = 360
	histTop    = 14                       // above the bars: the tallest bin's count
	histPlotH  = 90                       // bars area
	histHeight = histTop + histPlotH + 18 // below the bars: the axis labels
	sparkW     = 3                        // width per token of a sparkline
	sparkH     = 24
)

// Bar is one histogram bar in SVG coordinates.
type Bar struct {
	X, Y, W, H string
	Class      string // "pos" or "neg"
	Title      string
}

// Histogram is a bar chart of bin counts over bin centres.
type Histogram struct {
	Label  string
	Bars   []Bar
	Width  int
	Height int
	// Top is the y of the bars' top; Base the y of the axis (Top + bars' height).
	Top, Base int
	MinLabel  string
	MaxLabel  string
	TopLabel  string
	// ZeroX is the x of value 0 when it falls inside the range ("" otherwise).
	ZeroX string
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// NewHistogram lays out bars for heights (counts) at values (evenly spaced
// bin centres). The axis is labelled with the bins' outer edges (half a bin
// beyond the first and last centres), each bar's hover title gives its
// range and count, and the tallest bin's count sits above the bars. signed
// colours bars by the sign of their value; otherwise all are "pos". It
// returns nil when there is nothing to draw.
func NewHistogram(label string, heights, values []float64, signed bool) *Histogram {
	n := min(len(heights), len(values))
	if n == 0 {
		return nil
	}
	maxH := 0.0
	for _, h := range heights[:n] {
		maxH = max(maxH, h)
	}
	if maxH <= 0 {
		return nil
	}
	h := &Histogram{Label: label, Width: histWidth, Height: histHeight, Top: histTop, Base: histTop + histPlotH,
		Bars: make([]Bar, n)}
	w := float64(histWidth) / float64(n)
	step := 0.0
	if n > 1 {
		step = (values[n-1] - values[0]) / float64(n-1)
	}
	edge := func(i int) float64 { return values[0] + (float64(i)-0.5)*step }
	// Every bar's strings are written to one builder and cut from the one
	// string it makes: a feature page draws two 50-bin histograms, and six
	// strings per bar were a tenth of the page's allocations.
	const fields = 4 // x, y, height, title; the width is every bar's
	width := fmtF(max(w-1, 0.5))
	ends := make([]int32, 0, n*fields)
	var sb strings.Builder
	sb.Grow(n * 40)
	var num [64]byte
	put := func(b []byte) {
		sb.Write(b)
		ends = append(ends, int32(sb.Len()))
	}
	var lo []byte // the previous bar's upper edge, this bar's lower one
	if n > 1 {
		lo = appendNum(nil, edge(0))
	}
	for i := 0; i < n; i++ {
		bh := heights[i] / maxH * histPlotH
		if heights[i] > 0 && bh < 1 {
			bh = 1 // a non-empty bin stays visible
		}
		if signed && values[i] < 0 {
			h.Bars[i].Class = "neg"
		} else {
			h.Bars[i].Class = "pos"
		}
		put(strconv.AppendFloat(num[:0], float64(i)*w, 'f', 1, 64))
		put(strconv.AppendFloat(num[:0], histTop+histPlotH-bh, 'f', 1, 64))
		put(strconv.AppendFloat(num[:0], bh, 'f', 1, 64))
		if n > 1 {
			sb.Write(lo)
			sb.WriteString(" to ")
			lo = appendNum(lo[:0], edge(i+1))
			sb.Write(lo)
		} else {
			sb.Write(appendNum(num[:0], values[i]))
		}
		sb.WriteString(": ")
		put(appendCount(num[:0], heights[i]))
	}
	all, start := sb.String(), int32(0)
	cut := func(k int) string {
		s := all[start:ends[k]]
		start = ends[k]
		return s
	}
	for i := range h.Bars {
		b := &h.Bars[i]
		b.X, b.Y, b.H, b.Title = cut(i*fields), cut(i*fields+1), cut(i*fields+2), cut(i*fields+3)
		b.W = width
	}
	h.MinLabel, h.MaxLabel = Num(values[0]), Num(values[n-1])
	if n > 1 {
		h.MinLabel, h.MaxLabel = Num(edge(0)), Num(edge(n))
	}
	h.TopLabel = "tallest bin " + strconv.FormatFloat(maxH, 'f', -1, 64)
	if signed && n > 1 && edge(0) < 0 && edge(n) > 0 {
		h.ZeroX = fmtF(-edge(0) / step * w)
	}
	return h
}

// appendCount appends strconv.FormatFloat(v, 'f', -1, 64): by hand for
// the usual whole counts, where the shortest-decimal search was the
// costliest part of NewHistogram.
func appendCount(b []byte, v float64) []byte {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 && !(v == 0 && math.Signbit(v)) {
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// histBufs holds the buffers HistogramSVG writes a chart into.
var histBufs = sync.Pool{New: func() any { return new([]byte) }}

// HistogramSVG draws a histogram as inline SVG (nothing for nil). It is
// written by hand rather than as a templ template, byte for byte as the
// template wrote it (TestHistogramSVGMarkup): templ resolved and escaped
// each of a bar's six attributes and its title one at a time, and that was
// the largest single cost of rendering a feature page.
func HistogramSVG(h *Histogram) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if h == nil {
			return nil
		}
		bp := histBufs.Get().(*[]byte)
		b := appendHistogramSVG((*bp)[:0], h)
		_, err := w.Write(b)
		if cap(b) <= 1<<16 {
			*bp = b
			histBufs.Put(bp)
		}
		return err
	})
}

// appendHistogramSVG appends h's markup; text and attribute values are
// escaped as templ escapes them (html.EscapeString).
func appendHistogramSVG(b []byte, h *Histogram) []byte {
	width, height := strconv.Itoa(h.Width), strconv.Itoa(h.Height)
	label := html.EscapeString(h.Label)
	b = append(b, `<figure class="hist"><svg viewBox="0 0 `...)
	b = append(b, width...)
	b = append(b, ' ')
	b = append(b, height...)
	b = append(b, `" width="`...)
	b = append(b, width...)
	b = append(b, `" height="`...)
	b = append(b, height...)
	b = append(b, `" role="img" aria-label="`...)
	b = append(b, label...)
	b = append(b, `"><title>`...)
	b = append(b, label...)
	b = append(b, `</title>`...)
	for i := range h.Bars {
		bar := &h.Bars[i]
		b = append(b, `<rect class="`...)
		b = append(b, html.EscapeString(bar.Class)...)
		b = append(b, `" x="`...)
		b = append(b, html.EscapeString(bar.X)...)
		b = append(b, `" y="`...)
		b = append(b, html.EscapeString(bar.Y)...)
		b = append(b, `" width="`...)
		b = append(b, html.EscapeString(bar.W)...)
		b = append(b, `" height="`...)
		b = append(b, html.EscapeString(bar.H)...)
		b = append(b, `"><title>`...)
		b = append(b, html.EscapeString(bar.Title)...)
		b = append(b, `</title></rect> `...)
	}
	top, base := strconv.Itoa(h.Top), strconv.Itoa(h.Base)
	if h.ZeroX != "" {
		zero := html.EscapeString(h.ZeroX)
		b = append(b, `<line class="zero" x1="`...)
		b = append(b, zero...)
		b = append(b, `" x2="`...)
		b = append(b, zero...)
		b = append(b, `" y1="`...)
		b = append(b, top...)
		b = append(b, `" y2="`...)
		b = append(b, base...)
		b = append(b, `"></line> `...)
	}
	lblY := strconv.Itoa(h.Height - 4)
	b = append(b, `<line class="axis" x1="0" x2="`...)
	b = append(b, width...)
	b = append(b, `" y1="`...)
	b = append(b, base...)
	b = append(b, `" y2="`...)
	b = append(b, base...)
	b = append(b, `"></line> <text class="lbl" x="0" y="`...)
	b = append(b, lblY...)
	b = append(b, `">`...)
	b = append(b, html.EscapeString(h.MinLabel)...)
	b = append(b, `</text> <text class="lbl" x="`...)
	b = append(b, width...)
	b = append(b, `" y="`...)
	b = append(b, lblY...)
	b = append(b, `" text-anchor="end">`...)
	b = append(b, html.EscapeString(h.MaxLabel)...)
	b = append(b, `</text> <text class="lbl top" x="2" y="10">`...)
	b = append(b, html.EscapeString(h.TopLabel)...)
	b = append(b, `</text></svg><figcaption>`...)
	b = append(b, label...)
	b = append(b, `</figcaption></figure>`...)
	return b
}

// Sparkline is a per-token line of one feature's activations.
type Sparkline struct {
	Points string
	Width  int
	Height int
	// Dots marks the non-zero tokens, so a single-token spike is visible.
	Dots []Dot
}

// Dot is a marker on a sparkline: token position Pos, with a hover
// title the caller may fill in.
type Dot struct {
	X, Y  string
	Pos   int
	Title string
}

// NewSparkline draws values scaled to scale (or to their own max when scale <= 0).
func NewSparkline(values []float32, scale float64) Sparkline {
	if scale <= 0 {
		for _, v := range values {
			scale = max(scale, float64(v))
		}
	}
	s := Sparkline{Width: max(len(values)*sparkW, sparkW), Height: sparkH}
	var b strings.Builder
	for i, v := range values {
		y := float64(sparkH - 2)
		if scale > 0 && v > 0 {
			y = float64(sparkH-2) - min(float64(v)/scale, 1)*float64(sparkH-4)
		}
		x := float64(i*sparkW) + sparkW/2.0
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fmtF(x))
		b.WriteByte(',')
		b.WriteString(fmtF(y))
		if v > 0 {
			s.Dots = append(s.Dots, Dot{X: fmtF(x), Y: fmtF(y), Pos: i, Title: "token " + strconv.Itoa(i) + ": " + Num(float64(v))})
		}
	}
	s.Points = b.String()
	return s
}
