package report

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// WriteHTML writes r as one self-contained HTML page: summary tables,
// system information and every plot as an inline base64 PNG. It has inline
// CSS (with print rules) and no scripts or external resources, so it opens
// offline and prints cleanly.
func WriteHTML(w io.Writer, r *Report) error {
	if r == nil {
		return fmt.Errorf("report: html: nil report")
	}
	charts, err := buildCharts(r)
	if err != nil {
		return err
	}
	type img struct {
		Title string
		Src   template.URL
	}
	type row struct {
		Cells []string
		Fail  bool // a target row that failed
	}
	type table struct {
		Title  string
		Note   string
		Header []string
		Rows   []row
	}
	data := struct {
		R        *Report
		System   []kv
		Settings []kv
		Tables   []table
		Machine  []kv
		Quality  []kv
		Plots    []img
		Pass     int
	}{R: r, System: systemRows(r.SystemInfo), Settings: metadataRows(r.Metadata)}
	for _, t := range r.Targets {
		if t.Pass {
			data.Pass++
		}
	}
	add := func(title, note string, header []string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		t := table{Title: title, Note: note, Header: header}
		for _, cells := range rows {
			t.Rows = append(t.Rows, row{cells, len(cells) > 0 && failCell(cells[len(cells)-1])})
		}
		data.Tables = append(data.Tables, t)
	}
	add(fmt.Sprintf("Targets (%d of %d pass)", data.Pass, len(r.Targets)), "", targetHeader, rowsOf(r.Targets, targetRow))
	if sk := r.Soak; sk != nil {
		rows := [][]string{}
		for _, e := range soakSettings(sk) {
			rows = append(rows, []string{e.K, e.V})
		}
		for _, f := range sk.Failures {
			rows = append(rows, []string{"Failed", f})
		}
		rows = append(rows, []string{"Error budget", soakErrorLine(sk.ErrorBudget)})
		add("Soak: "+soakVerdict(sk), "", []string{"", ""}, rows)
		add("Soak: leaks", soakNote, soakLeakHeader, rowsOf(sk.Leaks, soakLeakRow))
		add("Soak: drift, first windows against last", "", soakDriftHeader, rowsOf(sk.Drift, soakDriftRow))
		add("Soak: faults injected", "", soakFaultHeader, rowsOf(sk.Faults, soakFaultRow))
		ws, note := soakWindows(sk)
		add("Soak: windows", note, soakWindowHeader, rowsOf(ws, soakWindowRow))
	}
	add("Latency", latencyNote, latencyHeader, rowsOf(r.Latency, latencyRow))
	add("Memory", memoryNote, memoryHeader, rowsOf(r.Memory, memoryRow))
	add("Throughput", "", throughputHeader, rowsOf(r.Throughput, throughputRow))
	if r.Profile != nil {
		data.Machine = machineRows(r.Profile)
		note := "Summed over layers."
		for _, ph := range r.Profile.Phases {
			note += " " + phaseLine(ph) + "."
		}
		add("Profile: time per op", note, opTotalHeader, rowsOf(opTotals(r.Profile), opTotalRow))
		add("Latency tail", "The slowest inter-token gaps (p99 and above) against the GC pauses inside them.", tailHeader, rowsOf(r.Profile.Tail, tailRow))
	}
	if r.Quality != nil {
		data.Quality = qualityRows(r.Quality)
	}
	for _, c := range charts {
		png, err := renderChart(c, FormatPNG)
		if err != nil {
			return err
		}
		data.Plots = append(data.Plots, img{c.title, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))})
	}
	if err := htmlTmpl.Execute(w, data); err != nil {
		return fmt.Errorf("report: write html: %w", err)
	}
	return nil
}

// failCell reports whether a row's last cell says it failed: a target's
// FAIL, a soak verdict's LEAK or DRIFT, a fault's "FAIL: why".
func failCell(c string) bool {
	return c == "FAIL" || c == "LEAK" || c == "DRIFT" || strings.HasPrefix(c, "FAIL: ")
}

// htmlTmpl is the page; html/template escapes every value.
var htmlTmpl = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.ReportName}} – gpt2bench report</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: #222; max-width: 1200px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
.meta { color: #555; }
.warn { background: #fff3cd; border: 1px solid #e0c36a; padding: .5rem .8rem; border-radius: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; font-weight: 600; white-space: normal; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
table.kv td:last-child { text-align: left; white-space: normal; }
tr.fail td { color: #b00020; font-weight: 600; }
figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
.note { color: #555; font-size: 13px; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8.5px; }
  th, td { padding: .15rem .3rem; }
  .scroll { overflow: visible; }
  section, figure, table { break-inside: avoid; page-break-inside: avoid; }
}
</style>
</head>
<body>
<h1>Benchmark report: {{.R.ReportName}}</h1>
<p class="meta">Model <b>{{.R.ModelName}}</b> · {{.R.Timestamp.UTC.Format "2006-01-02 15:04:05 UTC"}} · schema v{{.R.SchemaVersion}}</p>
{{if .R.Incomplete}}<p class="warn">Incomplete run: {{if .R.IncompleteReason}}{{.R.IncompleteReason}}{{else}}interrupted{{end}}. Missing phases are left out.</p>{{end}}
{{if .R.Metadata.RandomWeights}}<p class="warn">Random weights: timings only, no quality numbers.</p>{{end}}
<div class="grid">
<section><h2>System</h2><table class="kv">{{range .System}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>{{end}}</table></section>
<section><h2>Settings</h2><table class="kv">{{range .Settings}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>{{end}}</table></section>
</div>
{{range .Tables}}
<section><h2>{{.Title}}</h2>{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
<div class="scroll"><table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead><tbody>
{{range .Rows}}<tr{{if .Fail}} class="fail"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody></table></div></section>
{{end}}
{{if .Machine}}<section><h2>Machine limits (roofline)</h2><table class="kv">{{range .Machine}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>{{end}}</table></section>{{end}}
{{if .Quality}}<section><h2>Quality</h2><table class="kv">{{range .Quality}}<tr><td>{{.K}}</td><td>{{.V}}</td></tr>{{end}}</table></section>{{end}}
{{if .R.Skipped}}<section><h2>Skipped</h2><ul>{{range .R.Skipped}}<li>{{.Phase}}{{if .InputLen}}, input {{.InputLen}}{{end}}: {{.Reason}}</li>{{end}}</ul></section>{{end}}
{{if .Plots}}<h2>Plots</h2>
{{range .Plots}}<figure><img src="{{.Src}}" alt="{{.Title}}"><figcaption>{{.Title}}</figcaption></figure>
{{end}}{{end}}
<p class="note">Written by gpt2bench {{.R.SystemInfo.ToolVersion}}. All values as measured; see the JSON report for raw samples.</p>
</body>
</html>
`))
