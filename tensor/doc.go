// Package tensor holds the float32 kernels of the GPT-2 forward pass:
// linear layers (matrix times vector or matrix), layer norm, GELU, softmax
// and small vector ops, on plain row-major []float32 slices, plus the
// persistent worker pool that splits each op across cores.
//
// Shapes are written outermost first, as in PyTorch: x [N, K] is N rows of
// K contiguous values. Kernels panic only on programmer errors (a length
// that disagrees with the shape arguments); they never allocate.
package tensor
