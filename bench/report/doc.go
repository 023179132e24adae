// Package report holds the gpt2bench benchmark report (schema v1) and
// everything that reads one: JSON Schema validation, atomic writing,
// Markdown, terminal table, CSV, benchstat lines, plots, a self-contained
// HTML page, and statistical comparison of two reports.
//
// The bench phases fill a Report (Summarize turns raw samples into a
// Summary); the CLI writes it with WriteNew and renders it with the Write*
// functions. Renderers never recompute statistics: they show what the Report
// holds. ComparePooled redoes the statistics, one sample per report (per
// process) of each side:
//
//	c, err := report.ComparePooled(olds, news, report.CompareOptions{Threshold: 0.05})
//	report.WriteComparison(os.Stdout, c)
//	if len(c.Regressions()) > 0 { /* exit 1 */ }
//
// prints, for five runs 20% slower than five of their baseline:
//
//	setting             metric   old    new    delta    p (n)
//	input=32/output=32  ttft_ms  17.48  21.04  +20.34%  p=0.008 n=5+5  (regression)
//	input=32/output=32  tpot_ms  21.78  26.13  +19.96%  p=0.008 n=5+5  (regression)
//
// and "~" in the delta column where p >= alpha or the sample sizes could
// never reach significance (3 against 3 at alpha 0.05). Compare, one report
// a side, prints p on the runs but calls nothing significant: the runs of
// one process are not independent samples of its build.
//
// Files: {model}_{YYYYMMDD_HHMMSS}.json and .md, never overwritten (_2,
// _3, ...). Schema: schema/v1.json (embedded; SchemaV1). Adding a field
// keeps v1; renaming, removing or changing a meaning makes v2, and readers
// reject an unknown major version with a *VersionError.
package report
