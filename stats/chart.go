package stats

import (
	"fmt"
	"strings"

	"github.com/go-analyze/charts"
)

// Bars is a horizontal bar chart: a bar per label, longest first as
// given, with its value written at its end.
type Bars struct {
	Title  string
	Labels []string
	Values []float64
	// Unit follows each value ("ч", "h").
	Unit string
	// Format writes a value as the reader's language does ("3,5");
	// nil writes it with a point and at most one decimal.
	Format func(float64) string
}

// Chart formats.
const (
	PNG = "png"
	SVG = "svg"
)

// maxBars keeps a chart readable on a phone.
const maxBars = 8

// Render draws b as PNG or SVG, width pixels wide; its height follows the
// number of bars. Charts are drawn in Go (github.com/go-analyze/charts:
// maintained, pure Go, PNG and SVG with Cyrillic in its fonts), with no
// browser and no script.
func Render(b Bars, out string, width int) ([]byte, error) {
	labels, values := b.Labels, b.Values
	if len(labels) > maxBars {
		labels, values = labels[:maxBars], values[:maxBars]
	}
	if len(labels) == 0 {
		labels, values = []string{"—"}, []float64{0}
	}
	// The library draws the first category at the bottom: reversed, the
	// longest bar given first is on top.
	rl, rv := make([]string, len(labels)), make([]float64, len(values))
	for i := range labels {
		rl[len(labels)-1-i], rv[len(values)-1-i] = shorten(labels[i], 24), values[i]
	}
	format := b.Format
	if format == nil {
		format = trimFloat
	}
	// Sized for a phone: type is set for 390 px and the whole drawing
	// scaled to the width asked (a PNG is drawn at twice what it is shown
	// at, an SVG at the width it is shown at).
	k := float64(width) / 390
	// The library takes points; its PNG and SVG writers turn them into
	// pixels differently (measured: 0.75 and 1.05 give the pixels asked).
	perPx := 0.75
	if out == SVG {
		perPx = 1.05
	}
	font := func(px float64) charts.FontStyle { return charts.NewFontStyleWithSize(px * k * perPx) }
	top := 16.0
	if b.Title != "" {
		top = 44
	}
	height := int((top + 40*float64(len(rl)) + 28) * k)
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: out, Width: width, Height: height})
	opt := charts.NewBarChartOptionWithData([][]float64{rv})
	opt.Horizontal = true
	if b.Title != "" {
		opt.Title = charts.TitleOption{Text: b.Title, FontStyle: font(15)}
	} else {
		opt.Title = charts.TitleOption{Show: charts.Ptr(false)}
	}
	opt.CategoryAxis = charts.CategoryAxisOption{Labels: rl, LabelFontStyle: font(13)}
	opt.ValueAxis = []charts.ValueAxisOption{{LabelCount: 3, LabelFontStyle: font(11), Min: charts.Ptr(0.0)}}
	opt.ValueFormatter = format
	opt.SeriesLabelPosition = charts.PositionRight
	opt.SeriesList[0].Label = charts.SeriesLabel{Show: charts.Ptr(true), FontStyle: font(12),
		ValueFormatter: func(v float64) string { return strings.TrimSpace(format(v) + " " + b.Unit) }}
	opt.Padding = charts.NewBox(int(8*k), int(8*k), int(56*k), int(8*k))
	if err := p.BarChart(opt); err != nil {
		return nil, fmt.Errorf("draw chart %q: %w", b.Title, err)
	}
	return p.Bytes()
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}
