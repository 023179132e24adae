//go:build !unix

package hub

import (
	"context"
	"time"
)

// lockFile does nothing where flock is not available: downloads are still
// atomic (a verified .incomplete file renamed into place), only not
// excluded against another process fetching the same blob.
func lockFile(context.Context, string, time.Duration) (func(), error) { return func() {}, nil }
