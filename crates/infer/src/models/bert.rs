//! BERT-style encoder with mean pooling: sentence embeddings such as all-MiniLM-L6-v2.
//!
//! Steps: embed (word + token type + position), LayerNorm, then per layer
//! q/k/v matmuls, attention, output matmul, residual add, LayerNorm, intermediate matmul,
//! GELU, output matmul, residual add, LayerNorm; then mean pooling and (for
//! sentence-transformers models with a Normalize module) L2 normalisation. One sequence runs
//! at a time, so no padding or attention mask enters the arithmetic and a sentence's
//! embedding cannot depend on the batch it came in.

use super::{count, expect_shape};
use crate::error::{InferError, Result};
use crate::kernels::Executor;
use crate::model::{Architecture, Model, Trace};
use crate::program::{Op, Program, Step};
use crate::tensor::{Activation, Tensor};
use crate::tokenizer::TextTokenizer;
use crate::weights::WeightStore;
use borsh::{BorshDeserialize, BorshSerialize};

const LIMIT: u64 = 1 << 20;

#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
/// A BERT-style encoder's configuration (HF `config.json` fields).
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: u64,
    /// Width of the residual stream.
    pub hidden_size: u64,
    /// Encoder layers.
    pub layers: u64,
    /// Attention heads.
    pub heads: u64,
    /// Width of the feed-forward layer.
    pub intermediate_size: u64,
    /// Most positions (tokens) per input.
    pub max_positions: u64,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f32,
    /// Tensor name prefix (`""` or `"bert."`).
    pub prefix: String,
    /// L2-normalise the pooled embedding.
    pub normalize: bool,
}

/// The fields of a Hugging Face `config.json` that matter here.
#[derive(serde::Deserialize)]
struct HfConfig {
    vocab_size: u64,
    hidden_size: u64,
    num_hidden_layers: u64,
    num_attention_heads: u64,
    intermediate_size: u64,
    max_position_embeddings: u64,
    layer_norm_eps: f64,
    #[serde(default)]
    hidden_act: Option<String>,
}

impl BertConfig {
    /// From a Hugging Face `config.json`; the tensor prefix is found from the weights.
    pub fn from_hf_json(json: &str, weights: &WeightStore, normalize: bool) -> Result<BertConfig> {
        let hf: HfConfig = serde_json::from_str(json)
            .map_err(|e| InferError::UnsupportedConfig(format!("config.json: {e}")))?;
        if hf.hidden_act.as_deref().is_some_and(|act| act != "gelu") {
            return Err(InferError::UnsupportedConfig(format!(
                "hidden_act {:?}",
                hf.hidden_act
            )));
        }
        let prefix = if weights.contains("bert.embeddings.word_embeddings.weight") {
            "bert."
        } else {
            ""
        };
        Ok(BertConfig {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            layers: hf.num_hidden_layers,
            heads: hf.num_attention_heads,
            intermediate_size: hf.intermediate_size,
            max_positions: hf.max_position_embeddings,
            layer_norm_eps: hf.layer_norm_eps as f32,
            prefix: prefix.to_string(),
            normalize,
        })
    }

    fn name(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Check that every tensor the program reads is present with its shape.
    pub fn check(&self, weights: &WeightStore) -> Result<()> {
        let hidden = count("hidden_size", self.hidden_size, LIMIT)?;
        let heads = count("heads", self.heads, 1024)?;
        if hidden % heads != 0 {
            return Err(InferError::UnsupportedConfig(
                "hidden_size is not whole heads".into(),
            ));
        }
        let vocab = count("vocab_size", self.vocab_size, 1 << 24)?;
        let inner = count("intermediate_size", self.intermediate_size, LIMIT)?;
        let positions = count("max_positions", self.max_positions, LIMIT)?;
        count("layers", self.layers, 1024)?;
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return Err(InferError::UnsupportedConfig(
                "layer_norm_eps must be positive".into(),
            ));
        }
        expect_shape(
            weights,
            &self.name("embeddings.word_embeddings.weight"),
            &[vocab, hidden],
        )?;
        expect_shape(
            weights,
            &self.name("embeddings.position_embeddings.weight"),
            &[positions, hidden],
        )?;
        let types = weights.get(&self.name("embeddings.token_type_embeddings.weight"))?;
        if types.shape.len() != 2 || types.shape[1] != hidden || types.shape[0] == 0 {
            return Err(InferError::TensorShape {
                name: types.leaf.name.clone(),
                expected: vec![1, hidden],
                actual: types.shape.clone(),
            });
        }
        expect_shape(
            weights,
            &self.name("embeddings.LayerNorm.weight"),
            &[hidden],
        )?;
        expect_shape(weights, &self.name("embeddings.LayerNorm.bias"), &[hidden])?;
        for layer in 0..self.layers {
            let p = self.name(&format!("encoder.layer.{layer}."));
            for (part, out, inp) in [
                ("attention.self.query", hidden, hidden),
                ("attention.self.key", hidden, hidden),
                ("attention.self.value", hidden, hidden),
                ("attention.output.dense", hidden, hidden),
                ("intermediate.dense", inner, hidden),
                ("output.dense", hidden, inner),
            ] {
                expect_shape(weights, &format!("{p}{part}.weight"), &[out, inp])?;
                expect_shape(weights, &format!("{p}{part}.bias"), &[out])?;
            }
            for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
                expect_shape(weights, &format!("{p}{norm}.weight"), &[hidden])?;
                expect_shape(weights, &format!("{p}{norm}.bias"), &[hidden])?;
            }
        }
        Ok(())
    }

    /// Check a model input: token ids within the position limit.
    pub fn check_input(&self, input: &Activation) -> Result<()> {
        let (shape, tokens) = input.u32("tokens")?;
        if shape.len() != 1 || tokens.is_empty() {
            return Err(InferError::EmptyInput);
        }
        if tokens.len() as u64 > self.max_positions {
            return Err(InferError::InputTooLong {
                actual: tokens.len(),
                limit: self.max_positions as usize,
            });
        }
        Ok(())
    }

    /// The program: embed, then per layer attention and feed-forward, then pooling.
    pub fn program(&self) -> Program {
        let hidden = self.hidden_size as usize;
        let heads = self.heads as usize;
        let eps = self.layer_norm_eps;
        let linear = |name: String| Op::Linear {
            weight: format!("{name}.weight"),
            bias: Some(format!("{name}.bias")),
        };
        let norm = |name: String| Op::LayerNorm {
            weight: format!("{name}.weight"),
            bias: format!("{name}.bias"),
            eps,
        };
        let mut steps = vec![
            Step::new(
                Op::Embed {
                    table: self.name("embeddings.word_embeddings.weight"),
                    type_table: Some(self.name("embeddings.token_type_embeddings.weight")),
                    position_table: Some(self.name("embeddings.position_embeddings.weight")),
                },
                &["tokens"],
                "sum",
            ),
            Step::new(norm(self.name("embeddings.LayerNorm")), &["sum"], "hidden"),
        ];
        for layer in 0..self.layers {
            let p = self.name(&format!("encoder.layer.{layer}."));
            steps.extend([
                Step::new(linear(format!("{p}attention.self.query")), &["hidden"], "q"),
                Step::new(linear(format!("{p}attention.self.key")), &["hidden"], "k"),
                Step::new(linear(format!("{p}attention.self.value")), &["hidden"], "v"),
                Step::new(
                    Op::Attention {
                        heads,
                        kv_heads: heads,
                        head_dim: hidden / heads,
                        causal: false,
                    },
                    &["q", "k", "v"],
                    "context",
                ),
                Step::new(
                    linear(format!("{p}attention.output.dense")),
                    &["context"],
                    "projected",
                ),
                Step::new(Op::Add, &["projected", "hidden"], "sum"),
                Step::new(
                    norm(format!("{p}attention.output.LayerNorm")),
                    &["sum"],
                    "hidden",
                ),
                Step::new(
                    linear(format!("{p}intermediate.dense")),
                    &["hidden"],
                    "intermediate",
                ),
                Step::new(Op::Gelu, &["intermediate"], "intermediate"),
                Step::new(
                    linear(format!("{p}output.dense")),
                    &["intermediate"],
                    "projected",
                ),
                Step::new(Op::Add, &["projected", "hidden"], "sum"),
                Step::new(norm(format!("{p}output.LayerNorm")), &["sum"], "hidden"),
            ]);
        }
        steps.push(Step::new(Op::MeanPool, &["hidden"], "embedding"));
        if self.normalize {
            steps.push(Step::new(Op::L2Normalize, &["embedding"], "embedding"));
        }
        Program::new(steps, "embedding")
    }
}

/// Load a BERT sentence-embedding model from its safetensors weights, `config.json` and
/// `tokenizer.json`.
pub fn load(
    name: &str,
    safetensors: &[u8],
    config_json: &str,
    tokenizer_json: &str,
    normalize: bool,
) -> Result<Model> {
    let weights = crate::safetensors_loader::load_safetensors(safetensors)?;
    let config = BertConfig::from_hf_json(config_json, &weights, normalize)?;
    let tokenizer = TextTokenizer::from_json(tokenizer_json)?;
    Model::new(name, Architecture::Bert(config), weights, Some(tokenizer))
}

/// The model input for `tokens`.
pub fn input(tokens: &[u32]) -> Activation {
    let mut activation = Activation::new();
    activation.set("tokens", Tensor::u32(vec![tokens.len()], tokens.to_vec()));
    activation
}

/// The embedding of `text` and the trace that produced it.
pub fn embed(model: &Model, executor: &Executor, text: &str) -> Result<(Vec<f32>, Trace)> {
    let tokens = model.tokenizer()?.encode(text)?;
    let run = model.run(executor, input(&tokens))?;
    let (_, values) = run.output.f32("embedding")?;
    Ok((values.to_vec(), run.trace))
}

/// Embeddings of several texts. Each runs alone (see the module note), so a text's result is
/// the same at any position in any batch.
pub fn embed_batch(
    model: &Model,
    executor: &Executor,
    texts: &[&str],
) -> Result<Vec<(Vec<f32>, Trace)>> {
    texts
        .iter()
        .map(|text| embed(model, executor, text))
        .collect()
}
