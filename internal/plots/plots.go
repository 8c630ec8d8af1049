package plots

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of points.
type Series struct {
	Name string
	X, Y []float64
}

func save(p *plot.Plot, path string, w, h vg.Length) error {
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	return nil
}

func colorAt(i, n int) color.Color {
	pal := palette.Rainbow(max(n, 2), palette.Red, palette.Magenta, 0.8, 0.85, 1).Colors()
	return pal[i%len(pal)]
}

// Lines draws series as lines with points; logX makes the x axis
// logarithmic.
func Lines(path, title, xlabel, ylabel string, logX bool, series ...Series) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Add(plotter.NewGrid())
	for i, s := range series {
		xys := make(plotter.XYs, len(s.X))
		for j := range s.X {
			xys[j].X, xys[j].Y = s.X[j], s.Y[j]
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("plots: %s: %w", path, err)
		}
		c := colorAt(i, len(series))
		l.Color, pts.Color = c, c
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	p.Legend.Top = true
	return save(p, path, 6*vg.Inch, 4*vg.Inch)
}

// grid is a GridXYZ over a row-major matrix; row 0 is drawn at the top.
type grid struct {
	z    [][]float64
	rows int
}

func (g grid) Dims() (int, int)   { return len(g.z[0]), g.rows }
func (g grid) Z(c, r int) float64 { return g.z[g.rows-1-r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }
func (g grid) Min() float64       { return minMax(g.z, math.Min, math.Inf(1)) }
func (g grid) Max() float64       { return minMax(g.z, math.Max, math.Inf(-1)) }
func minMax(z [][]float64, f func(a, b float64) float64, start float64) float64 {
	out := start
	for _, r := range z {
		for _, v := range r {
			out = f(out, v)
		}
	}
	if out == start {
		return 0
	}
	return out
}

// Heatmap draws z [rows][cols] with row and column names and each cell's
// value written in it (format, e.g. "%.0f" or "%.3f").
func Heatmap(path, title, xlabel, ylabel string, rows, cols []string, z [][]float64, format string) error {
	if len(z) == 0 || len(z[0]) == 0 {
		return fmt.Errorf("plots: %s: empty heatmap", path)
	}
	g := grid{z: z, rows: len(z)}
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	lo, hi := g.Min(), g.Max()
	if hi == lo {
		hi = lo + 1
	}
	hm := plotter.NewHeatMap(g, palette.Heat(64, 1))
	hm.Min, hm.Max = lo, hi
	p.Add(hm)
	var xys plotter.XYs
	var labels []string
	for r := range z {
		for c, v := range z[r] {
			xys = append(xys, plotter.XY{X: float64(c), Y: float64(len(z) - 1 - r)})
			labels = append(labels, fmt.Sprintf(format, v))
		}
	}
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign, lab.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		lab.TextStyle[i].Color = color.Black
	}
	p.Add(lab)
	p.NominalX(cols...)
	rev := make([]string, len(rows))
	for i, r := range rows {
		rev[len(rows)-1-i] = r
	}
	p.NominalY(rev...)
	side := vg.Length(max(4, 0.6*float64(max(len(rows), len(cols))))) * vg.Inch
	return save(p, path, side+1.5*vg.Inch, side)
}

// Scatter draws 2-D points coloured by class with a legend.
func Scatter(path, title, xlabel, ylabel string, x, y []float64, class []int, names []string) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	for c, name := range names {
		var xys plotter.XYs
		for i := range x {
			if class[i] == c {
				xys = append(xys, plotter.XY{X: x[i], Y: y[i]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		s, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plots: %s: %w", path, err)
		}
		s.GlyphStyle.Color = colorAt(c, len(names))
		s.GlyphStyle.Radius = vg.Points(2)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(name, s)
	}
	p.Legend.Top = true
	return save(p, path, 6*vg.Inch, 5*vg.Inch)
}

// Bars draws one bar per name.
func Bars(path, title, ylabel string, names []string, values []float64) error {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, ylabel
	b, err := plotter.NewBarChart(plotter.Values(values), vg.Points(18))
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	b.Color = colorAt(0, 2)
	p.Add(b)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 4
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	return save(p, path, vg.Length(max(5, 0.5*float64(len(names))))*vg.Inch, 4*vg.Inch)
}
