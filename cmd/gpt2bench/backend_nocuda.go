//go:build !cuda

package main

import (
	"errors"

	"github.com/gpt2bench/gpt2bench/tensor"
	"github.com/gpt2bench/gpt2bench/weights"
)

// errNoCUDA is returned by --backend cuda in a binary built without it.
var errNoCUDA = errors.New("--backend cuda: this binary was built without CUDA support; rebuild with `go build -tags cuda ./cmd/gpt2bench` (headers and link stub: scripts/cuda-sdk.sh)")

func openCUDA(*weights.Model, tensor.DType) (gpuModel, error) { return nil, errNoCUDA }
