//go:build cuda

package main

import (
	"fmt"

	"github.com/gpt2bench/gpt2bench/model"
	"github.com/gpt2bench/gpt2bench/model/cuda"
	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/weights"
)

// cudaModel adapts *cuda.Model to gpuModel.
type cudaModel struct{ *cuda.Model }

// NewSession returns a CUDA session as a model.Backend.
func (m cudaModel) NewSession(batch, capacity int) (model.Backend, error) {
	s, err := m.Model.NewSession(batch, capacity)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openCUDA uploads w to the first GPU with its linear weights in dt.
func openCUDA(w *weights.Model, dt tensor.DType) (gpuModel, error) {
	m, err := cuda.Open(w.Config, w.Params, dt)
	if err != nil {
		return nil, fmt.Errorf("--backend cuda: load %s: %w", w.Name, err)
	}
	return cudaModel{m}, nil
}
