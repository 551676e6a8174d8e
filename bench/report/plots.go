package main

import (
	"fmt"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named line of a plot.
type Series struct {
	Name string
	XY   plotter.XYs
}

// savePlot writes p as a PNG of 6×4 inches.
func savePlot(p *plot.Plot, path string) error {
	if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", filepath.Base(path), err)
	}
	return nil
}

func addLines(p *plot.Plot, series []Series) error {
	for i, s := range series {
		if len(s.XY) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.XY)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		l.Color, pts.Color = plotutil.Color(i), plotutil.Color(i)
		l.Width = vg.Points(1.5)
		pts.Shape = plotutil.Shape(i)
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return nil
}

// logXPlot is an empty plot with a logarithmic x axis.
func logXPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	return p
}

// throughputPlot is requests/s against connections (log x), one line a side.
func throughputPlot(title string, series []Series, path string) error {
	p := logXPlot(title, "concurrent connections", "requests/s (median of rounds)")
	p.Y.Min = 0
	for _, s := range series {
		for _, xy := range s.XY {
			p.Y.Max = math.Max(p.Y.Max, xy.Y*1.3) // room for the legend
		}
	}
	if err := addLines(p, series); err != nil {
		return err
	}
	return savePlot(p, path)
}

// cdfPlot is the share of requests at or under a latency (log x, ms).
func cdfPlot(title string, dists map[string]Dist, order []string, path string) error {
	p := logXPlot(title, "latency (ms, log scale)", "share of requests at or under")
	p.Y.Min, p.Y.Max = 0, 1
	var series []Series
	for _, name := range order {
		var xy plotter.XYs
		for _, q := range dists[name] {
			if q.Micros > 0 {
				xy = append(xy, plotter.XY{X: q.Micros / 1000, Y: q.Q})
			}
		}
		series = append(series, Series{Name: name, XY: xy})
	}
	if err := addLines(p, series); err != nil {
		return err
	}
	return savePlot(p, path)
}

// barsPlot is grouped bars: one group per label, one bar per series.
func barsPlot(title, ylabel string, labels []string, names []string, values [][]float64, hline float64, path string) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	w := vg.Points(14)
	for i, vals := range values {
		v := make(plotter.Values, len(vals))
		for j, x := range vals {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				x = 0
			}
			v[j] = x
		}
		b, err := plotter.NewBarChart(v, w)
		if err != nil {
			return fmt.Errorf("%s: %w", names[i], err)
		}
		b.Color = plotutil.Color(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(len(values)-1)/2) * w
		p.Add(b)
		p.Legend.Add(names[i], b)
	}
	if hline > 0 {
		f := plotter.NewFunction(func(float64) float64 { return hline })
		f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		f.Color = plotutil.Color(len(values))
		p.Add(f)
		p.Legend.Add(fmt.Sprintf("goal %.1f", hline), f)
	}
	p.Legend.Top = true
	p.Y.Min = 0
	top := hline
	for _, vals := range values {
		for _, x := range vals {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				top = math.Max(top, x)
			}
		}
	}
	p.Y.Max = top * 1.3 // room for the legend
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(labels))-0.4 // whole bars at both ends
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.Add(plotter.NewGrid())
	if err := p.Save(7*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", filepath.Base(path), err)
	}
	return nil
}
