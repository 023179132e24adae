// Package loadgen measures an OpenAI-compatible server (gpt2bench serve,
// vLLM, llama.cpp's llama-server, TGI, ...) from the client side: a
// streaming client over net/http, workloads of exact token lengths, closed-
// and open-loop arrival processes, per-request records, and the load section
// of a bench report (bench/report.Load) made from them.
//
// Every time is read on the monotonic clock at the arrival of each SSE
// event. Open-loop points plan each request's send time from the arrival
// process and count latency from that plan as well as from the actual send,
// so a stalled server cannot hide its queueing (coordinated omission). The
// generator checks itself: how late each request left against its plan and
// how much CPU it used, and marks a point client-bound past a threshold.
//
//	c := loadgen.NewClient(loadgen.ClientOptions{BaseURL: "http://127.0.0.1:8000/v1"})
//	w := &loadgen.RandomWorkload{Input: loadgen.Fixed(128), Output: loadgen.Fixed(32), Vocab: 50257, Seed: 1}
//	res, err := loadgen.RunPoint(ctx, loadgen.Options{Client: c, Workload: w},
//		loadgen.Point{Arrival: report.ArrivalPoisson, Rate: 4, Burstiness: 1, Requests: 200, Warmup: 4})
//
// loadgen imports nothing of the server it measures; tests talk HTTP on loopback.
package loadgen
