package report

import (
	"errors"
	"fmt"
	"strings"
)

// UnitReport is one report, that is one bench process: the sample of
// ComparePooled, each report's median of a metric. Never written in a
// report.
const UnitReport = "report"

// ComparePooled compares several reports of old (as) with several of new
// (bs), all of the same settings, taking each report's median of a metric
// as one sample: the unit of a sample is the process, not a run in it.
//
// Compare reports p on the runs of one process against those of another
// but calls nothing significant: those runs share their process's
// conditions (heap and page placement, the cores it ran on, its
// neighbours' load during the seconds it ran), so two processes of the
// same build differ "significantly" far more often than alpha says
// (scripts/false-positive.sh measures how often). Across reports of
// separate processes, interleaved in time (old, new, old, new...), that
// difference is part of the samples, and the false-positive rate is
// alpha's. With 4 reports a side the smallest p is
// 0.029, so 4 or more are needed at alpha 0.05.
//
// Rows, system differences and per-op profiles are those of as[0] against
// bs[0]; a row missing from any report is left out and listed in
// OnlyInA/OnlyInB. Settings must match across every report unless
// opts.Force.
func ComparePooled(as, bs []*Report, opts CompareOptions) (*Comparison, error) {
	if len(as) == 0 || len(bs) == 0 {
		return nil, errors.New("report: compare: no reports on one side")
	}
	if len(as) == 1 && len(bs) == 1 {
		return Compare(as[0], bs[0], opts)
	}
	first, err := compareRuns(as[0], bs[0], opts)
	if err != nil {
		return nil, err
	}
	// Every report against the first of the other side: its rows' A (or B)
	// are that report's medians.
	type key struct{ group, metric string }
	centers := func(rs []*Report, old bool) (map[key][]float64, error) {
		out := map[key][]float64{}
		for _, r := range rs {
			var c *Comparison
			var err error
			if old {
				c, err = compareRuns(r, bs[0], opts)
			} else {
				c, err = compareRuns(as[0], r, opts)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.ReportName, err)
			}
			for _, d := range c.Rows {
				v := d.A
				if !old {
					v = d.B
				}
				out[key{d.Group, d.Metric}] = append(out[key{d.Group, d.Metric}], v)
			}
		}
		return out, nil
	}
	ca, err := centers(as, true)
	if err != nil {
		return nil, err
	}
	cb, err := centers(bs, false)
	if err != nil {
		return nil, err
	}
	c := *first
	c.A, c.B = pooledName(as), pooledName(bs)
	c.ReportsA, c.ReportsB = len(as), len(bs)
	c.IncompleteA, c.IncompleteB = pooledIncomplete(as), pooledIncomplete(bs)
	c.Rows = nil
	for _, d := range first.Rows {
		k := key{d.Group, d.Metric}
		sa, sb := ca[k], cb[k]
		if len(sa) != len(as) || len(sb) != len(bs) {
			if len(sa) != len(as) {
				c.OnlyInB = append(c.OnlyInB, fmt.Sprintf("%s %s (in %d of %d old reports)", d.Group, d.Metric, len(sa), len(as)))
			}
			if len(sb) != len(bs) {
				c.OnlyInA = append(c.OnlyInA, fmt.Sprintf("%s %s (in %d of %d new reports)", d.Group, d.Metric, len(sb), len(bs)))
			}
			continue
		}
		suma, sumb := Summarize(sa), Summarize(sb)
		suma.SampleUnit, sumb.SampleUnit = UnitReport, UnitReport
		row := compareSummary(d.Group, d.Metric, d.Better, &suma, &sumb, c.Alpha)
		row.Note = strings.Replace(row.Note, "raise --runs", "add reports", 1)
		c.Rows = append(c.Rows, row)
	}
	return &c, nil
}

// pooledName names a side of several reports: "N reports: first ... last".
func pooledName(rs []*Report) string {
	if len(rs) == 1 {
		return rs[0].ReportName
	}
	return fmt.Sprintf("%d reports: %s ... %s", len(rs), rs[0].ReportName, rs[len(rs)-1].ReportName)
}

// pooledIncomplete lists the incomplete reports of a side, "" when none is.
func pooledIncomplete(rs []*Report) string {
	var out []string
	for _, r := range rs {
		if why := incomplete(r); why != "" {
			out = append(out, r.ReportName+": "+why)
		}
	}
	return strings.Join(out, "; ")
}
