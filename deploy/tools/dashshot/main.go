// Command dashshot renders the panels of a Grafana dashboard (JSON) from a
// Prometheus server's data into one PNG: each panel's queries run through
// Prometheus's query_range API over a time window and are drawn as lines.
// It is not Grafana: no Grafana runs here. It shows what the dashboard's
// queries return on real data (docs/operations.md, "The dashboard").
//
//	dashshot -prometheus http://127.0.0.1:9090 -dashboard deploy/grafana/cspm.json \
//	  -start 2026-12-03T15:00:00Z -end 2026-12-03T15:10:00Z -out docs/img/dashboard.png
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

type dashboard struct {
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	} `json:"targets"`
}

type series struct {
	name string
	ts   []float64
	vs   []float64
}

func main() {
	prom := flag.String("prometheus", "http://127.0.0.1:9090", "Prometheus base URL")
	dashPath := flag.String("dashboard", "deploy/grafana/cspm.json", "Grafana dashboard JSON")
	startS := flag.String("start", "", "window start (RFC 3339)")
	endS := flag.String("end", "", "window end (RFC 3339)")
	step := flag.Duration("step", 5*time.Second, "query resolution")
	rate := flag.String("rate-interval", "30s", "what $__rate_interval stands for")
	out := flag.String("out", "dashboard.png", "PNG to write")
	flag.Parse()
	if err := run(*prom, *dashPath, *startS, *endS, *step, *rate, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dashshot:", err)
		os.Exit(1)
	}
}

func run(prom, dashPath, startS, endS string, step time.Duration, rate, out string) error {
	raw, err := os.ReadFile(dashPath)
	if err != nil {
		return err
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("%s: %w", dashPath, err)
	}
	start, err := time.Parse(time.RFC3339, startS)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	end, err := time.Parse(time.RFC3339, endS)
	if err != nil {
		return fmt.Errorf("-end: %w", err)
	}
	var panels []panel
	for _, p := range d.Panels {
		if p.Type == "timeseries" {
			panels = append(panels, p)
		}
	}
	const cols, pw, ph, header = 3, 620, 330, 40
	rows := (len(panels) + cols - 1) / cols
	img := image.NewRGBA(image.Rect(0, 0, cols*pw, header+rows*ph))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{24, 27, 31, 255}}, image.Point{}, draw.Src)
	text(img, 12, 26, fmt.Sprintf("%s: the dashboard's queries over Prometheus data of a real run, %s to %s (rendered by deploy/tools/dashshot, not Grafana)",
		d.Title, start.Format("2006-01-02 15:04:05"), end.Format("15:04:05 MST")), color.White)
	for i, p := range panels {
		var all []series
		for _, tg := range p.Targets {
			expr := strings.ReplaceAll(tg.Expr, "$__rate_interval", rate)
			ss, err := queryRange(prom, expr, start, end, step)
			if err != nil {
				return fmt.Errorf("panel %q: %w", p.Title, err)
			}
			for _, s := range ss {
				s.name = legend(tg.Legend, s.name)
				all = append(all, s)
			}
		}
		x0, y0 := (i%cols)*pw, header+(i/cols)*ph
		drawPanel(img, image.Rect(x0+6, y0+6, x0+pw-6, y0+ph-6), p.Title, p.FieldConfig.Defaults.Unit, all, start, end)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// queryRange returns the series of expr; each series' name is its label
// set as JSON, for legend().
func queryRange(prom, expr string, start, end time.Time, step time.Duration) ([]series, error) {
	q := url.Values{"query": {expr}, "start": {strconv.FormatInt(start.Unix(), 10)},
		"end": {strconv.FormatInt(end.Unix(), 10)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	resp, err := http.Get(prom + "/api/v1/query_range?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", expr, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", expr, r.Error)
	}
	var out []series
	for _, res := range r.Data.Result {
		labels, _ := json.Marshal(res.Metric)
		s := series{name: string(labels)}
		for _, v := range res.Values {
			t, _ := v[0].(float64)
			str, _ := v[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				continue
			}
			s.ts, s.vs = append(s.ts, t), append(s.vs, f)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

var legendVar = regexp.MustCompile(`\{\{\s*([a-zA-Z_]+)\s*\}\}`)

func legend(format, labelsJSON string) string {
	var labels map[string]string
	_ = json.Unmarshal([]byte(labelsJSON), &labels)
	if format == "" {
		return labelsJSON
	}
	return legendVar.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendVar.FindStringSubmatch(m)[1]]
	})
}

var palette = []color.RGBA{
	{115, 191, 105, 255}, {242, 204, 12, 255}, {87, 148, 242, 255}, {255, 120, 10, 255},
	{242, 73, 92, 255}, {184, 119, 217, 255}, {112, 219, 237, 255}, {255, 152, 48, 255},
}

func drawPanel(img *image.RGBA, r image.Rectangle, title, unit string, ss []series, start, end time.Time) {
	draw.Draw(img, r, &image.Uniform{color.RGBA{17, 18, 23, 255}}, image.Point{}, draw.Src)
	grey := color.RGBA{90, 90, 100, 255}
	text(img, r.Min.X+8, r.Min.Y+16, title, color.White)
	legendRows := min(len(ss), 4)
	plot := image.Rect(r.Min.X+62, r.Min.Y+28, r.Max.X-10, r.Max.Y-22-legendRows*14)
	maxV := 0.0
	for _, s := range ss {
		for _, v := range s.vs {
			maxV = math.Max(maxV, v)
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	maxV *= 1.1
	for i := 0; i <= 4; i++ { // grid and y labels
		y := plot.Max.Y - i*plot.Dy()/4
		hline(img, plot.Min.X, plot.Max.X, y, color.RGBA{40, 42, 50, 255})
		text(img, r.Min.X+4, y+4, format(maxV*float64(i)/4, unit), grey)
	}
	text(img, plot.Min.X, plot.Max.Y+14, start.Format("15:04:05"), grey)
	text(img, plot.Max.X-56, plot.Max.Y+14, end.Format("15:04:05"), grey)
	if len(ss) == 0 {
		text(img, plot.Min.X+plot.Dx()/2-30, plot.Min.Y+plot.Dy()/2, "no data", grey)
	}
	t0, t1 := float64(start.Unix()), float64(end.Unix())
	for i, s := range ss {
		c := palette[i%len(palette)]
		var px, py int
		for j := range s.ts {
			x := plot.Min.X + int((s.ts[j]-t0)/(t1-t0)*float64(plot.Dx()))
			y := plot.Max.Y - int(s.vs[j]/maxV*float64(plot.Dy()))
			if j > 0 && s.ts[j]-s.ts[j-1] < 60 {
				line(img, px, py, x, y, c)
			} else {
				img.Set(x, y, c)
			}
			px, py = x, y
		}
		if i < legendRows {
			ly := plot.Max.Y + 28 + i*14
			hline(img, plot.Min.X, plot.Min.X+14, ly-4, c)
			name := s.name
			if i == legendRows-1 && len(ss) > legendRows {
				name += fmt.Sprintf("  (+%d more series)", len(ss)-legendRows)
			}
			text(img, plot.Min.X+20, ly, trim(name, 70), color.RGBA{200, 200, 210, 255})
		}
	}
}

func format(v float64, unit string) string {
	suffix := map[string]string{"s": "s", "ops": "/s", "reqps": " req/s"}[unit]
	switch {
	case unit == "s" && v < 1 && v > 0:
		return strconv.FormatFloat(v*1000, 'f', 0, 64) + "ms"
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k" + suffix
	case v >= 10 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64) + suffix
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + suffix
}

func trim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	s = asciiOnly.Replace(s) // basicfont has ASCII only
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

var asciiOnly = strings.NewReplacer("→", "->", "…", "...", "×", "x")

func hline(img *image.RGBA, x0, x1, y int, c color.Color) {
	for x := x0; x <= x1; x++ {
		img.Set(x, y, c)
	}
}

// line draws with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.Set(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
