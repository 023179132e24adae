//go:build !unix

package loadgen

import "time"

// cpuTime returns 0 where getrusage is missing: the CPU check then never trips.
func cpuTime() time.Duration { return 0 }
