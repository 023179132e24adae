package loadgen

import (
	"context"
	"time"
)

// Send runs one request outside a load point, for callers that drive their
// own loop (gpt2bench soak): planned is when the request was due (its
// closed-loop slot or open-loop arrival), and the record's offsets
// (planned_ms, sent_ms, ..., end_ms) count from origin. As Do, it returns
// ctx's error when ctx ended (the request is then not a failure of the
// server) and nil otherwise; the record is filled either way.
func (c *Client) Send(ctx context.Context, req Request, planned, origin time.Time) (Record, error) {
	rec := Record{planned: planned}
	err := c.Do(ctx, req, &rec)
	if rec.end.IsZero() {
		rec.end = time.Now()
	}
	rec.finish(origin)
	return rec, err
}
