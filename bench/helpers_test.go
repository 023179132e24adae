package bench

import (
	"testing"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/tensor"
)

// tinyConfig is a GPT-2 small enough for every phase to run in milliseconds.
var tinyConfig = model.Config{VocabSize: 96, NPositions: 64, NEmbd: 32, NLayer: 2, NHead: 4, LayerNormEps: 1e-5, Activation: "gelu_new"}

// cpuEngine adapts a *model.Model to Engine.
type cpuEngine struct{ m *model.Model }

func (e cpuEngine) NewSession(batch, capacity int) (model.Backend, error) {
	return e.m.NewSession(batch, capacity)
}

func (e cpuEngine) Config() model.Config { return e.m.Config() }

// newTinyModel returns a random model of cfg, closed when the test ends.
func newTinyModel(t testing.TB, cfg model.Config, dt tensor.DType) *model.Model {
	t.Helper()
	p, err := model.RandomParams(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(cfg, p, model.Options{DType: dt, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

var errTest = errorString("test failure")

type errorString string

func (e errorString) Error() string { return string(e) }
