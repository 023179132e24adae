package hub

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newProgressBar returns a byte progress bar for one file, drawn on w, with the transfer
// speed and the time left. size -1 draws a spinner. Use it only when w is a terminal.
func newProgressBar(w io.Writer, file string, size int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(file),
		progressbar.OptionShowBytes(true), // speed in B/s
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true), // ETA
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// TerminalProgress is a ProgressFunc that draws a newProgressBar per transfer on w
// (usually os.Stderr, when it is a terminal). A resumed transfer starts at its offset;
// a failed one leaves its bar where it stopped instead of filling it.
func TerminalProgress(w io.Writer) ProgressFunc {
	return func(file string, total, done int64) io.WriteCloser {
		bar := newProgressBar(w, file, total)
		if done > 0 {
			_ = bar.Set64(done) // drawing errors never fail a download
		}
		return &barCloser{bar: bar, total: total}
	}
}

type barCloser struct {
	bar   *progressbar.ProgressBar
	total int64
}

func (b *barCloser) Write(p []byte) (int, error) {
	_ = b.bar.Add(len(p))
	return len(p), nil
}

func (b *barCloser) Close() error {
	if b.total >= 0 && b.bar.State().CurrentNum >= b.total {
		return b.bar.Finish()
	}
	return b.bar.Exit()
}
