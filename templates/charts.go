package templates

import (
	"strconv"
	"strings"
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
	h := &Histogram{Label: label, Width: histWidth, Height: histHeight, Top: histTop, Base: histTop + histPlotH}
	w := float64(histWidth) / float64(n)
	step := 0.0
	if n > 1 {
		step = (values[n-1] - values[0]) / float64(n-1)
	}
	edge := func(i int) float64 { return values[0] + (float64(i)-0.5)*step }
	for i := 0; i < n; i++ {
		bh := heights[i] / maxH * histPlotH
		if heights[i] > 0 && bh < 1 {
			bh = 1 // a non-empty bin stays visible
		}
		class := "pos"
		if signed && values[i] < 0 {
			class = "neg"
		}
		rng := Num(values[i])
		if n > 1 {
			rng = Num(edge(i)) + " to " + Num(edge(i+1))
		}
		h.Bars = append(h.Bars, Bar{
			X: fmtF(float64(i) * w), Y: fmtF(histTop + histPlotH - bh), W: fmtF(max(w-1, 0.5)), H: fmtF(bh),
			Class: class, Title: rng + ": " + strconv.FormatFloat(heights[i], 'f', -1, 64),
		})
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
