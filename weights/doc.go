// Package weights turns a GPT-2 checkpoint into a model.Config and
// model.Params: Hugging Face config.json parsing, tensor-name mapping
// (with or without the "transformer." prefix), the one-time transpose of
// GPT-2's Conv1D weights from [in, out] to Params' [out, in], and lookup of
// hub names in the local Hugging Face cache.
//
// Load accepts:
//
//	""  or "default"             the embedded default: gpt2 (124M) shapes, deterministic random weights
//	DIR                          config.json + model.safetensors (else pytorch_model.bin)
//	FILE.safetensors, FILE.bin   config from Options.ConfigPath, else inferred from the shapes
//	gpt2, openai-community/gpt2  a hub name, read from the HF cache (see package hub)
//
// Safetensors files are memory-mapped and PyTorch storages are read tensor by
// tensor, so loading holds the float32 Params plus one scratch matrix, never a
// second copy of the checkpoint.
package weights
