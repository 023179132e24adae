package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gpt2bench/gpt2bench/bench/report"
	"github.com/gpt2bench/gpt2bench/loadgen/fakeserver"
)

// instantServerEnv, when set, makes the test binary an instant server
// (see TestMain), so the capacity benchmark's server runs in another
// process and the generator's CPU time is its own.
const instantServerEnv = "GPT2BENCH_LOADGEN_INSTANT_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(instantServerEnv) != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().String())
		// serve until the parent closes stdin (or dies)
		go func() { _, _ = bufio.NewReader(os.Stdin).ReadString('\n'); os.Exit(0) }()
		_ = http.Serve(ln, fakeserver.InstantHandler(capacityTokens))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// capacityTokens is the length of a "short streaming request".
const capacityTokens = 4

// startInstantServer runs the test binary as an instant server and returns
// its base URL; the process ends with the benchmark.
func startInstantServer(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), instantServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill() // our own child, by its PID
			<-done
		}
	})
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + strings.TrimSpace(addr) + "/v1"
}

// BenchmarkClientCapacity measures the generator against an instant server
// in another process: short streaming requests (4 tokens) in a closed loop.
// req/s is what this machine reached with the server beside it; client-
// CPU-us/req is the generator's own CPU per request (getrusage), so
// req/s-per-core = 1e6 / client-CPU-us/req is its capacity per core.
func BenchmarkClientCapacity(b *testing.B) {
	base := startInstantServer(b)
	for _, conc := range []int{8, 32} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			c, err := NewClient(ClientOptions{BaseURL: base, Model: "instant", MaxConns: conc})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			w := &RandomWorkload{Input: Fixed(8), Output: Fixed(capacityTokens), Vocab: 50257, Seed: 1}
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			res, err := RunPoint(context.Background(), Options{Client: c, Workload: w},
				Point{Arrival: report.ArrivalClosed, Concurrency: conc, Requests: b.N}, 0)
			b.StopTimer()
			cpu := cpuTime() - cpu0
			if err != nil {
				b.Fatal(err)
			}
			if res.Point.Failed > 0 {
				b.Fatalf("%d of %d requests failed: %+v", res.Point.Failed, b.N, res.Point.Errors)
			}
			us := float64(cpu.Microseconds()) / float64(b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			b.ReportMetric(us, "client-CPU-us/req")
			b.ReportMetric(1e6/us, "req/s-per-core")
		})
	}
}
