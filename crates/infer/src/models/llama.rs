//! Llama-style decoder with greedy generation: SmolLM2-135M-Instruct from GGUF.
//!
//! Steps: embed, then per layer RMSNorm, q/k/v matmuls, rotary embedding of q and k,
//! causal grouped-query attention, output matmul, residual add, RMSNorm, gate and up matmuls,
//! SiLU-gate, down matmul, residual add; then RMSNorm, the vocabulary matmul and argmax.
//!
//! Generation decodes token by token with a key/value cache (fast), and then runs the
//! program once over the prompt and the generated tokens (the traced pass): its argmax row
//! `i` is the token chosen after position `i`, so the trace commits to every choice. Every
//! kernel computes a row from that row and the rows before it only, in an order fixed by the
//! row's position, so the cached decode and the traced pass agree bit for bit; [`generate`]
//! asserts it.

use super::{count, expect_shape};
use crate::error::{InferError, Result};
use crate::gguf::{load_gguf, GgufFile};
use crate::kernels::{self, Executor};
use crate::model::{Architecture, Model, Trace};
use crate::program::{Op, Program, Step};
use crate::tensor::{Activation, Tensor};
use crate::tokenizer::TextTokenizer;
use crate::weights::WeightStore;
use borsh::{BorshDeserialize, BorshSerialize};

/// Longest sequence (prompt and generated tokens) the engine runs, whatever the model allows:
/// it bounds the key/value cache and the traced pass.
pub const SEQUENCE_TOKENS_MAX: u64 = 4096;
const LIMIT: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
/// A Llama-style decoder's configuration (from GGUF metadata).
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Width of the residual stream.
    pub hidden_size: u64,
    /// Decoder layers.
    pub layers: u64,
    /// Query heads.
    pub heads: u64,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: u64,
    /// Width of the gated feed-forward layer.
    pub intermediate_size: u64,
    /// RoPE frequency base.
    pub rope_base: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// Most positions the model was trained on.
    pub context_length: u64,
    /// The output matrix is the token embedding (no `output.weight`).
    pub tied_embeddings: bool,
}

impl LlamaConfig {
    /// The configuration in a GGUF file's `llama.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<LlamaConfig> {
        let arch = file.string("general.architecture")?;
        if arch != "llama" {
            return Err(InferError::UnsupportedConfig(format!(
                "GGUF architecture `{arch}`"
            )));
        }
        let hidden = file.u64("llama.embedding_length")?;
        let heads = file.u64("llama.attention.head_count")?;
        if let Ok(rope_dims) = file.u64("llama.rope.dimension_count") {
            if heads == 0 || rope_dims != hidden / heads {
                return Err(InferError::UnsupportedConfig(
                    "partial rotary embedding".into(),
                ));
            }
        }
        let embedding = file.weights.get("token_embd.weight")?;
        Ok(LlamaConfig {
            vocab_size: embedding.shape[0] as u64,
            hidden_size: hidden,
            layers: file.u64("llama.block_count")?,
            heads,
            kv_heads: file.u64("llama.attention.head_count_kv").unwrap_or(heads),
            intermediate_size: file.u64("llama.feed_forward_length")?,
            rope_base: file.f32("llama.rope.freq_base").unwrap_or(10_000.0),
            rms_eps: file.f32("llama.attention.layer_norm_rms_epsilon")?,
            context_length: file.u64("llama.context_length")?,
            tied_embeddings: !file.weights.contains("output.weight"),
        })
    }

    fn output_weight(&self) -> &'static str {
        if self.tied_embeddings {
            "token_embd.weight"
        } else {
            "output.weight"
        }
    }

    fn head_dim(&self) -> usize {
        (self.hidden_size / self.heads) as usize
    }

    /// Most tokens in one sequence (prompt and generated).
    pub fn sequence_max(&self) -> usize {
        self.context_length.min(SEQUENCE_TOKENS_MAX) as usize
    }

    /// Check that every tensor the program reads is present with its shape.
    pub fn check(&self, weights: &WeightStore) -> Result<()> {
        let hidden = count("hidden_size", self.hidden_size, LIMIT)?;
        let heads = count("heads", self.heads, 1024)?;
        let kv_heads = count("kv_heads", self.kv_heads, 1024)?;
        if hidden % heads != 0 || heads % kv_heads != 0 || (hidden / heads) % 2 != 0 {
            return Err(InferError::UnsupportedConfig("head layout".into()));
        }
        let vocab = count("vocab_size", self.vocab_size, 1 << 24)?;
        let inner = count("intermediate_size", self.intermediate_size, LIMIT)?;
        count("layers", self.layers, 1024)?;
        count("context_length", self.context_length, 1 << 24)?;
        if self.rms_eps.is_nan()
            || self.rms_eps <= 0.0
            || !self.rope_base.is_finite()
            || self.rope_base <= 1.0
        {
            return Err(InferError::UnsupportedConfig("rms_eps or rope_base".into()));
        }
        let kv_width = kv_heads * (hidden / heads);
        expect_shape(weights, "token_embd.weight", &[vocab, hidden])?;
        expect_shape(weights, self.output_weight(), &[vocab, hidden])?;
        expect_shape(weights, "output_norm.weight", &[hidden])?;
        for layer in 0..self.layers {
            let p = format!("blk.{layer}.");
            for (part, shape) in [
                ("attn_norm", vec![hidden]),
                ("ffn_norm", vec![hidden]),
                ("attn_q", vec![hidden, hidden]),
                ("attn_k", vec![kv_width, hidden]),
                ("attn_v", vec![kv_width, hidden]),
                ("attn_output", vec![hidden, hidden]),
                ("ffn_gate", vec![inner, hidden]),
                ("ffn_up", vec![inner, hidden]),
                ("ffn_down", vec![hidden, inner]),
            ] {
                expect_shape(weights, &format!("{p}{part}.weight"), &shape)?;
            }
        }
        Ok(())
    }

    /// Check a model input: token ids within the context.
    pub fn check_input(&self, input: &Activation) -> Result<()> {
        let (shape, tokens) = input.u32("tokens")?;
        if shape.len() != 1 || tokens.is_empty() {
            return Err(InferError::EmptyInput);
        }
        if tokens.len() > self.sequence_max() {
            return Err(InferError::InputTooLong {
                actual: tokens.len(),
                limit: self.sequence_max(),
            });
        }
        Ok(())
    }

    /// The program: embed, then per layer attention and feed-forward, then logits and argmax.
    pub fn program(&self) -> Program {
        let head_dim = self.head_dim();
        let (heads, kv_heads) = (self.heads as usize, self.kv_heads as usize);
        let eps = self.rms_eps;
        let linear = |name: String| Op::Linear {
            weight: name,
            bias: None,
        };
        let rope = || Op::Rope {
            head_dim,
            base: self.rope_base,
        };
        let mut steps = vec![Step::new(
            Op::Embed {
                table: "token_embd.weight".into(),
                type_table: None,
                position_table: None,
            },
            &["tokens"],
            "hidden",
        )];
        for layer in 0..self.layers {
            let p = format!("blk.{layer}.");
            steps.extend([
                Step::new(
                    Op::RmsNorm {
                        weight: format!("{p}attn_norm.weight"),
                        eps,
                    },
                    &["hidden"],
                    "normed",
                ),
                Step::new(linear(format!("{p}attn_q.weight")), &["normed"], "q"),
                Step::new(linear(format!("{p}attn_k.weight")), &["normed"], "k"),
                Step::new(linear(format!("{p}attn_v.weight")), &["normed"], "v"),
                Step::new(rope(), &["q"], "q"),
                Step::new(rope(), &["k"], "k"),
                Step::new(
                    Op::Attention {
                        heads,
                        kv_heads,
                        head_dim,
                        causal: true,
                    },
                    &["q", "k", "v"],
                    "context",
                ),
                Step::new(
                    linear(format!("{p}attn_output.weight")),
                    &["context"],
                    "projected",
                ),
                Step::new(Op::Add, &["hidden", "projected"], "hidden"),
                Step::new(
                    Op::RmsNorm {
                        weight: format!("{p}ffn_norm.weight"),
                        eps,
                    },
                    &["hidden"],
                    "normed",
                ),
                Step::new(linear(format!("{p}ffn_gate.weight")), &["normed"], "gate"),
                Step::new(linear(format!("{p}ffn_up.weight")), &["normed"], "up"),
                Step::new(Op::SiluMul, &["gate", "up"], "gate"),
                Step::new(
                    linear(format!("{p}ffn_down.weight")),
                    &["gate"],
                    "projected",
                ),
                Step::new(Op::Add, &["hidden", "projected"], "hidden"),
            ]);
        }
        steps.extend([
            Step::new(
                Op::RmsNorm {
                    weight: "output_norm.weight".into(),
                    eps,
                },
                &["hidden"],
                "normed",
            ),
            Step::new(linear(self.output_weight().into()), &["normed"], "logits"),
            Step::new(Op::Argmax, &["logits"], "next_tokens"),
        ]);
        Program::new(steps, "next_tokens")
    }
}

/// Load a Llama-architecture GGUF model with its embedded tokenizer.
pub fn load(name: &str, gguf: &[u8]) -> Result<Model> {
    let file = load_gguf(gguf)?;
    let config = LlamaConfig::from_gguf(&file)?;
    let tokenizer = TextTokenizer::from_gguf(&file)?;
    Model::new(
        name,
        Architecture::Llama(config),
        file.weights,
        Some(tokenizer),
    )
}

/// The model input for `tokens`.
pub fn input(tokens: &[u32]) -> Activation {
    let mut activation = Activation::new();
    activation.set("tokens", Tensor::u32(vec![tokens.len()], tokens.to_vec()));
    activation
}

/// A greedy completion and the trace of the pass that commits to it.
pub struct Generation {
    /// The new tokens, without the prompt.
    pub tokens: Vec<u32>,
    /// Trace of the program over `prompt ++ tokens[..len - 1]`.
    pub trace: Trace,
    /// The traced pass's input (the ledger's job input for step 0).
    pub input: Activation,
}

fn config_of(model: &Model) -> Result<&LlamaConfig> {
    match &model.manifest().architecture {
        Architecture::Llama(config) => Ok(config),
        _ => Err(InferError::UnsupportedConfig("not a Llama model".into())),
    }
}

/// Greedily generate up to `max_new_tokens` after `prompt`, stopping after `stop` if given.
pub fn generate(
    model: &Model,
    executor: &Executor,
    prompt: &[u32],
    max_new_tokens: usize,
    stop: Option<u32>,
) -> Result<Generation> {
    let config = config_of(model)?;
    if prompt.is_empty() || max_new_tokens == 0 {
        return Err(InferError::EmptyInput);
    }
    let total = prompt.len() + max_new_tokens - 1;
    if total > config.sequence_max() {
        return Err(InferError::InputTooLong {
            actual: total,
            limit: config.sequence_max(),
        });
    }
    let generated = decode_greedy(model, executor, prompt, max_new_tokens, stop)?;
    let mut sequence = prompt.to_vec();
    sequence.extend_from_slice(&generated[..generated.len() - 1]);
    let input = input(&sequence);
    let run = model.run(executor, input.clone())?;
    let (_, chosen) = run.output.u32("next_tokens")?;
    assert_eq!(
        &chosen[prompt.len() - 1..],
        &generated[..],
        "cached decoding and the traced pass disagree: a kernel depends on more than its row"
    );
    Ok(Generation {
        tokens: generated,
        trace: run.trace,
        input,
    })
}

/// Greedy decoding with a key/value cache and no trace: the tokens [`generate`] commits to.
pub fn decode_greedy(
    model: &Model,
    executor: &Executor,
    prompt: &[u32],
    max_new_tokens: usize,
    stop: Option<u32>,
) -> Result<Vec<u32>> {
    let config = config_of(model)?;
    if prompt.is_empty() || max_new_tokens == 0 {
        return Err(InferError::EmptyInput);
    }
    let total = prompt.len() + max_new_tokens - 1;
    if total > config.sequence_max() {
        return Err(InferError::InputTooLong {
            actual: total,
            limit: config.sequence_max(),
        });
    }
    let mut decoder = Decoder::new(model, config)?;
    let mut generated = Vec::with_capacity(max_new_tokens);
    let mut next = decoder.feed(executor, prompt)?;
    loop {
        generated.push(next);
        if generated.len() == max_new_tokens || Some(next) == stop {
            break;
        }
        next = decoder.feed(executor, &[next])?;
    }
    Ok(generated)
}

/// Token-by-token decoding with a key/value cache, using the program's own kernels.
struct Decoder<'a> {
    weights: &'a WeightStore,
    config: &'a LlamaConfig,
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    position: usize,
}

impl<'a> Decoder<'a> {
    fn new(model: &'a Model, config: &'a LlamaConfig) -> Result<Decoder<'a>> {
        Ok(Decoder {
            weights: model.weights(),
            config,
            keys: vec![Vec::new(); config.layers as usize],
            values: vec![Vec::new(); config.layers as usize],
            position: 0,
        })
    }

    fn matrix(&self, name: &str) -> Result<(&[f32], usize, usize)> {
        let weight = self.weights.get(name)?;
        Ok((&weight.values, weight.shape[0], weight.shape[1]))
    }

    fn linear(&self, executor: &Executor, x: &[f32], rows: usize, name: &str) -> Result<Vec<f32>> {
        let weight = self.weights.get(name)?;
        let (columns, inner) = (weight.shape[0], weight.shape[1]);
        Ok(kernels::linear(
            executor,
            x,
            rows,
            inner,
            weight.matrix(),
            columns,
            None,
        ))
    }

    /// Append `tokens` and return the greedy choice after the last of them.
    fn feed(&mut self, executor: &Executor, tokens: &[u32]) -> Result<u32> {
        let c = self.config;
        let (hidden, head_dim) = (c.hidden_size as usize, c.head_dim());
        let (heads, kv_heads) = (c.heads as usize, c.kv_heads as usize);
        let rows = tokens.len();
        let (table, vocab, _) = self.matrix("token_embd.weight")?;
        let mut h = Vec::with_capacity(rows * hidden);
        for &token in tokens {
            if token as usize >= vocab {
                return Err(InferError::TokenOutOfRange { id: token, vocab });
            }
            h.extend_from_slice(&table[token as usize * hidden..(token as usize + 1) * hidden]);
        }
        for layer in 0..c.layers as usize {
            let p = format!("blk.{layer}.");
            let norm = self
                .weights
                .f32(&format!("{p}attn_norm.weight"), &[hidden])?;
            let normed = kernels::rms_norm(&h, hidden, norm, c.rms_eps);
            let mut q = self.linear(executor, &normed, rows, &format!("{p}attn_q.weight"))?;
            let mut k = self.linear(executor, &normed, rows, &format!("{p}attn_k.weight"))?;
            let v = self.linear(executor, &normed, rows, &format!("{p}attn_v.weight"))?;
            kernels::rope(&mut q, hidden, head_dim, c.rope_base, self.position);
            kernels::rope(
                &mut k,
                kv_heads * head_dim,
                head_dim,
                c.rope_base,
                self.position,
            );
            self.keys[layer].extend_from_slice(&k);
            self.values[layer].extend_from_slice(&v);
            let context = kernels::attention(
                executor,
                &q,
                &self.keys[layer],
                &self.values[layer],
                rows,
                heads,
                kv_heads,
                head_dim,
                true,
            );
            let projected =
                self.linear(executor, &context, rows, &format!("{p}attn_output.weight"))?;
            for (x, y) in h.iter_mut().zip(&projected) {
                *x += y;
            }
            let norm = self
                .weights
                .f32(&format!("{p}ffn_norm.weight"), &[hidden])?;
            let normed = kernels::rms_norm(&h, hidden, norm, c.rms_eps);
            let gate = self.linear(executor, &normed, rows, &format!("{p}ffn_gate.weight"))?;
            let up = self.linear(executor, &normed, rows, &format!("{p}ffn_up.weight"))?;
            let gated: Vec<f32> = gate
                .iter()
                .zip(&up)
                .map(|(g, u)| kernels::silu(*g) * u)
                .collect();
            let projected = self.linear(executor, &gated, rows, &format!("{p}ffn_down.weight"))?;
            for (x, y) in h.iter_mut().zip(&projected) {
                *x += y;
            }
        }
        self.position += rows;
        let last = &h[(rows - 1) * hidden..];
        let norm = self.weights.f32("output_norm.weight", &[hidden])?;
        let normed = kernels::rms_norm(last, hidden, norm, c.rms_eps);
        let logits = self.linear(executor, &normed, 1, c.output_weight())?;
        Ok(kernels::argmax(&logits))
    }
}
