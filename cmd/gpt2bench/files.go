package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic writes path through a temporary file in the same
// directory, synced and then renamed over path, so a reader never sees a
// half-written file and a failure leaves nothing behind.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	werr := write(f)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
