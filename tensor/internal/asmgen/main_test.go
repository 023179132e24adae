package main

import (
	"bytes"
	"os"
	"testing"
)

// TestGeneratedUpToDate fails when linear512_amd64.s is not what this
// generator writes: run go generate ./tensor after changing either.
func TestGeneratedUpToDate(t *testing.T) {
	have, err := os.ReadFile("../../linear512_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, generate()) {
		t.Fatal("tensor/linear512_amd64.s differs from the generator's output: run go generate ./tensor")
	}
}
