package stats_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/viza-app/viza/stats"
)

var sample = stats.Bars{Title: "Время до решения по этапам, рабочие часы", Unit: "ч",
	Labels: []string{"Договор · Юридическая проверка", "Договор · Финансы", "Договор · Директор", "Служебная записка · 1"},
	Values: []float64{12.5, 6, 3.25, 1}}

// TestChartPNG: a chart for a phone is a PNG twice 390 px wide, taller
// with more bars.
func TestChartPNG(t *testing.T) {
	b, err := stats.Render(sample, stats.PNG, 780)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	one := sample
	one.Labels, one.Values = one.Labels[:1], one.Values[:1]
	small, _ := stats.Render(one, stats.PNG, 780)
	simg, _ := png.Decode(bytes.NewReader(small))
	if img.Bounds().Dx() != 780 || simg.Bounds().Dy() >= img.Bounds().Dy() {
		t.Fatalf("sizes %v and %v", img.Bounds(), simg.Bounds())
	}
}

// TestChartEscapes: the SVG the web page puts inline carries every label
// as text, Cyrillic kept and markup escaped.
func TestChartEscapes(t *testing.T) {
	b := sample
	b.Labels = append([]string{`<script>alert(1)</script> «Этап»`}, b.Labels[1:]...)
	svg, err := stats.Render(b, stats.SVG, 720)
	if err != nil {
		t.Fatal(err)
	}
	s := string(svg)
	if strings.Contains(s, "<script") || !strings.Contains(s, "&lt;script&gt;") || !strings.Contains(s, "Договор · Финансы") {
		t.Fatalf("the SVG does not carry the labels safely:\n%.1500s", s)
	}
	if !strings.Contains(s, "viewBox=") {
		t.Fatal("the SVG cannot scale to a phone: no viewBox")
	}
}

// BenchmarkChart: a chart is drawn in at most 50 ms (issue 33).
func BenchmarkChart(b *testing.B) {
	for _, format := range []string{stats.PNG, stats.SVG} {
		b.Run(format, func(b *testing.B) {
			for b.Loop() {
				if _, err := stats.Render(sample, format, 780); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
