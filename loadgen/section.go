package loadgen

import "github.com/gpt2bench/gpt2bench/bench/report"

// Section makes the report's load section: the client's endpoint, the
// workload, the SLO, every point in order and the sweep (nil without one).
// server is the Server header of /models, "" when none.
func Section(c *Client, w Workload, slo *report.LoadSLO, ignoreEOS bool, seed int64, server string, points []PointResult, sweep *report.LoadSweep) *report.Load {
	info := w.Describe()
	l := &report.Load{
		URL: c.BaseURL(), Endpoint: c.Endpoint(), Server: server, SLO: slo, Sweep: sweep,
		Workload: report.LoadWorkload{
			Source: info.Source, Dataset: info.Dataset, PromptFormat: info.PromptFormat,
			InputLenMin: info.InputLenMin, InputLenMax: info.InputLenMax,
			OutputLenMin: info.OutputLenMin, OutputLenMax: info.OutputLenMax,
			PrefixLen: info.PrefixLen, PrefixGroups: info.PrefixGroups, IgnoreEOS: ignoreEOS, Seed: seed,
			Temperature: c.opts.Temperature,
		},
		Points: make([]report.LoadPoint, 0, len(points)),
	}
	for _, p := range points {
		l.Points = append(l.Points, p.Point)
	}
	return l
}
