// Package testmodel loads the tiny transformers checkpoint in testdata for
// the tests of packages that serve a model (server, soak), so that each
// does not carry its own copy of the loader.
package testmodel

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/weights"
)

// TinyDir is the directory of testdata/tiny-gpt2 (vocab 1024, context 64),
// found from this file's place in the module, whatever the test's package.
func TinyDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "tiny-gpt2")
}

// Tiny loads testdata/tiny-gpt2 on one thread; the model is closed when
// the test ends.
func Tiny(t testing.TB) *model.Model {
	t.Helper()
	w, err := weights.Load(context.Background(), TinyDir(), weights.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(w.Config, w.Params, model.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}
