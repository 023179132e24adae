#!/usr/bin/env python3
"""hf_to_gguf.py: a GPT-2 Hugging Face directory (config.json and
model.safetensors, float32: what `gpt2bench export` writes) as a GGUF file
that llama.cpp's llama-server loads, with the same weights, so that the two
engines can be measured side by side on one model (scripts/llama-server.sh).

The tokenizer comes from tiktoken's r50k_base ranks (GPT-2's byte-level BPE,
the file tiktoken-go-loader embeds): token strings in the byte-to-unicode
alphabet of GPT-2's vocab.json, and the merges recovered from the ranks (a
token's merge is the last step of BPE over its bytes using only the ranks
below its own).

Usage: hf_to_gguf.py MODEL_DIR R50K_TIKTOKEN OUT.gguf [--f16]
Needs numpy and the gguf package (Debian: python3-gguf).
"""
import base64
import json
import struct
import sys

import numpy as np
import gguf


def read_safetensors(path):
    """Returns {name: float32 array} of a safetensors file."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            sys.exit(f"hf_to_gguf.py: {name} is {t['dtype']}, want F32 (gpt2bench export writes F32)")
        lo, hi = t["data_offsets"]
        out[name.removeprefix("transformer.")] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(t["shape"])
    return out


def byte_alphabet():
    """GPT-2's byte -> printable character map of vocab.json."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return chars


def tokenizer(path):
    """Token strings and merges of GPT-2's BPE from a .tiktoken rank file."""
    ranks = {}
    for line in open(path, "rb"):
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    alpha = byte_alphabet()
    text = lambda b: "".join(alpha[c] for c in b)
    tokens = [None] * len(ranks)
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        tokens[rank] = text(tok)
        if len(tok) == 1:
            continue
        parts = [bytes([c]) for c in tok]
        while len(parts) > 2:
            best = None
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1])
                if r is not None and r < rank and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        if len(parts) != 2:
            sys.exit(f"hf_to_gguf.py: no merge for token {rank} {tok!r}")
        merges.append(f"{text(parts[0])} {text(parts[1])}")
    return tokens, merges


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 3:
        sys.exit(__doc__)
    model_dir, ranks_path, out = args
    f16 = "--f16" in sys.argv
    cfg = json.load(open(f"{model_dir}/config.json"))
    w = read_safetensors(f"{model_dir}/model.safetensors")
    tokens, merges = tokenizer(ranks_path)
    V, C, L = cfg["vocab_size"], cfg["n_embd"], cfg["n_layer"]
    eot = V - 1  # <|endoftext|>
    tokens.append("<|endoftext|>")
    if len(tokens) != V:
        sys.exit(f"hf_to_gguf.py: {len(tokens)} tokens, config says vocab_size {V}")

    wr = gguf.GGUFWriter(out, "gpt2")
    wr.add_name("gpt2bench-export")
    wr.add_context_length(cfg["n_positions"])
    wr.add_embedding_length(C)
    wr.add_feed_forward_length(cfg.get("n_inner") or 4 * C)
    wr.add_block_count(L)
    wr.add_head_count(cfg["n_head"])
    wr.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    wr.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    wr.add_tokenizer_model("gpt2")
    wr.add_tokenizer_pre("gpt-2")
    wr.add_token_list(tokens)
    wr.add_token_types([gguf.TokenType.NORMAL] * (V - 1) + [gguf.TokenType.CONTROL])
    wr.add_token_merges(merges)
    wr.add_bos_token_id(eot)
    wr.add_eos_token_id(eot)
    wr.add_add_bos_token(False)

    def put(name, a, matrix=False):
        a = np.ascontiguousarray(a, dtype=np.float32)
        if matrix and f16:
            a = a.astype(np.float16)
        wr.add_tensor(name, a)

    put("token_embd.weight", w["wte.weight"], matrix=True)
    put("position_embd.weight", w["wpe.weight"])
    for i in range(L):
        p, q = f"h.{i}.", f"blk.{i}."
        put(q + "attn_norm.weight", w[p + "ln_1.weight"])
        put(q + "attn_norm.bias", w[p + "ln_1.bias"])
        put(q + "attn_qkv.weight", w[p + "attn.c_attn.weight"].T, matrix=True)  # HF Conv1D is [in, out]
        put(q + "attn_qkv.bias", w[p + "attn.c_attn.bias"])
        put(q + "attn_output.weight", w[p + "attn.c_proj.weight"].T, matrix=True)
        put(q + "attn_output.bias", w[p + "attn.c_proj.bias"])
        put(q + "ffn_norm.weight", w[p + "ln_2.weight"])
        put(q + "ffn_norm.bias", w[p + "ln_2.bias"])
        put(q + "ffn_up.weight", w[p + "mlp.c_fc.weight"].T, matrix=True)
        put(q + "ffn_up.bias", w[p + "mlp.c_fc.bias"])
        put(q + "ffn_down.weight", w[p + "mlp.c_proj.weight"].T, matrix=True)
        put(q + "ffn_down.bias", w[p + "mlp.c_proj.bias"])
    put("output_norm.weight", w["ln_f.weight"])
    put("output_norm.bias", w["ln_f.bias"])

    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    print(f"wrote {out}: gpt2, {L} layers, n_embd {C}, vocab {V}, {len(merges)} merges, {'f16' if f16 else 'f32'} matrices")


if __name__ == "__main__":
    main()
