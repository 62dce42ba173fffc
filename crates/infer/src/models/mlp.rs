//! Classifiers for small images (the MNIST models that federated learning trains, DESIGN §6):
//! a multi-layer perceptron and a small convolutional network, with weights from safetensors.
//!
//! Tensor names: MLP `layers.{i}.weight` `[out, in]` and `layers.{i}.bias`; CNN
//! `conv.{i}.weight` `[out, in, k, k]`, `conv.{i}.bias`, then `dense.{i}.weight`/`bias`.
//! The output is the logits of each input row (a client takes the argmax).

use super::{count, expect_shape};
use crate::error::{InferError, Result};
use crate::kernels::Executor;
use crate::model::{Architecture, Model, Trace};
use crate::program::{Op, Program, Step};
use crate::tensor::{Activation, Tensor};
use crate::weights::WeightStore;
use borsh::{BorshDeserialize, BorshSerialize};

const LIMIT: u64 = 1 << 20;
/// Most input rows (images) in one MLP run.
pub const MLP_ROWS_MAX: usize = 4096;

/// Layer widths, input first: `[784, 128, 10]` is 784 → 128 → ReLU → 10.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct MlpConfig {
    /// Layer widths, input first.
    pub widths: Vec<u64>,
}

impl MlpConfig {
    /// Check that every layer's weight and bias has its shape.
    pub fn check(&self, weights: &WeightStore) -> Result<()> {
        if self.widths.len() < 2 || self.widths.len() > 64 {
            return Err(InferError::UnsupportedConfig(
                "an MLP needs 2..=64 widths".into(),
            ));
        }
        for (i, pair) in self.widths.windows(2).enumerate() {
            let (inp, out) = (
                count("width", pair[0], LIMIT)?,
                count("width", pair[1], LIMIT)?,
            );
            expect_shape(weights, &format!("layers.{i}.weight"), &[out, inp])?;
            expect_shape(weights, &format!("layers.{i}.bias"), &[out])?;
        }
        Ok(())
    }

    /// Check a model input: `[rows, widths[0]]` with at most [`MLP_ROWS_MAX`] rows.
    pub fn check_input(&self, input: &Activation) -> Result<()> {
        let (shape, _) = input.f32("input")?;
        match shape {
            [rows, width]
                if *rows > 0 && *rows <= MLP_ROWS_MAX && *width as u64 == self.widths[0] =>
            {
                Ok(())
            }
            _ => Err(InferError::SlotShape {
                slot: "input".into(),
                actual: shape.to_vec(),
                reason: format!("expected [1..={MLP_ROWS_MAX}, {}]", self.widths[0]),
            }),
        }
    }

    /// The program: linear layers with ReLU between them.
    pub fn program(&self) -> Program {
        let layers = self.widths.len() - 1;
        let mut steps = Vec::new();
        for i in 0..layers {
            let from = if i == 0 { "input" } else { "hidden" };
            let to = if i + 1 == layers { "logits" } else { "hidden" };
            steps.push(Step::new(
                Op::Linear {
                    weight: format!("layers.{i}.weight"),
                    bias: Some(format!("layers.{i}.bias")),
                },
                &[from],
                to,
            ));
            if i + 1 < layers {
                steps.push(Step::new(Op::Relu, &["hidden"], "hidden"));
            }
        }
        Program::new(steps, "logits")
    }
}

/// One convolution: `out_channels` filters of `kernel × kernel`, zero `padding`, ReLU, then
/// `pool × pool` max pooling (1: none).
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct ConvLayer {
    /// Filters.
    pub out_channels: u64,
    /// Kernel side.
    pub kernel: u64,
    /// Zero padding on each side.
    pub padding: u64,
    /// Pooling window side (1: none).
    pub pool: u64,
}

/// A CNN over `[channels, height, width]` images: convolutions, flatten, dense layers
/// (ReLU between them), logits.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct CnnConfig {
    /// Input channels.
    pub channels: u64,
    /// Input height.
    pub height: u64,
    /// Input width.
    pub width: u64,
    /// Convolutions, in order.
    pub convs: Vec<ConvLayer>,
    /// Dense widths after flattening, classes last.
    pub dense: Vec<u64>,
}

impl CnnConfig {
    /// The flattened width after the convolutions, or an error if a layer does not fit.
    fn flattened(&self) -> Result<(usize, Vec<usize>)> {
        let (mut c, mut h, mut w) = (
            count("channels", self.channels, 4096)?,
            count("height", self.height, 4096)?,
            count("width", self.width, 4096)?,
        );
        let mut inputs = Vec::new();
        for conv in &self.convs {
            inputs.push(c);
            let k = count("kernel", conv.kernel, 64)?;
            let pad = conv.padding as usize;
            if pad > 64 || h + 2 * pad < k || w + 2 * pad < k {
                return Err(InferError::UnsupportedConfig(
                    "convolution larger than its input".into(),
                ));
            }
            h = h + 2 * pad + 1 - k;
            w = w + 2 * pad + 1 - k;
            let pool = count("pool", conv.pool, 64)?;
            h /= pool;
            w /= pool;
            c = count("out_channels", conv.out_channels, 4096)?;
            if h == 0 || w == 0 {
                return Err(InferError::UnsupportedConfig(
                    "pooling leaves nothing".into(),
                ));
            }
        }
        Ok((c * h * w, inputs))
    }

    /// Check that every convolution and dense layer fits its input and has its tensors.
    pub fn check(&self, weights: &WeightStore) -> Result<()> {
        if self.convs.len() > 32 || self.dense.is_empty() || self.dense.len() > 32 {
            return Err(InferError::UnsupportedConfig(
                "a CNN needs 0..=32 convs and 1..=32 dense layers".into(),
            ));
        }
        let (flat, inputs) = self.flattened()?;
        for (i, (conv, channels)) in self.convs.iter().zip(inputs).enumerate() {
            let (out, k) = (conv.out_channels as usize, conv.kernel as usize);
            expect_shape(weights, &format!("conv.{i}.weight"), &[out, channels, k, k])?;
            expect_shape(weights, &format!("conv.{i}.bias"), &[out])?;
        }
        let mut width = flat;
        for (i, &out) in self.dense.iter().enumerate() {
            let out = count("dense width", out, LIMIT)?;
            expect_shape(weights, &format!("dense.{i}.weight"), &[out, width])?;
            expect_shape(weights, &format!("dense.{i}.bias"), &[out])?;
            width = out;
        }
        Ok(())
    }

    /// Check a model input: one `[channels, height, width]` image.
    pub fn check_input(&self, input: &Activation) -> Result<()> {
        let (shape, _) = input.f32("image")?;
        let expected = [
            self.channels as usize,
            self.height as usize,
            self.width as usize,
        ];
        if shape != expected {
            return Err(InferError::SlotShape {
                slot: "image".into(),
                actual: shape.to_vec(),
                reason: format!("expected {expected:?}"),
            });
        }
        Ok(())
    }

    /// The program: convolutions with ReLU and pooling, flatten, dense layers.
    pub fn program(&self) -> Program {
        let mut steps = Vec::new();
        let mut current = "image";
        for (i, conv) in self.convs.iter().enumerate() {
            steps.push(Step::new(
                Op::Conv2d {
                    weight: format!("conv.{i}.weight"),
                    bias: format!("conv.{i}.bias"),
                    kernel: conv.kernel as usize,
                    padding: conv.padding as usize,
                },
                &[current],
                "features",
            ));
            current = "features";
            steps.push(Step::new(Op::Relu, &["features"], "features"));
            if conv.pool > 1 {
                steps.push(Step::new(
                    Op::MaxPool2d {
                        size: conv.pool as usize,
                    },
                    &["features"],
                    "features",
                ));
            }
        }
        steps.push(Step::new(Op::Flatten, &[current], "hidden"));
        for i in 0..self.dense.len() {
            let last = i + 1 == self.dense.len();
            let to = if last { "logits" } else { "hidden" };
            steps.push(Step::new(
                Op::Linear {
                    weight: format!("dense.{i}.weight"),
                    bias: Some(format!("dense.{i}.bias")),
                },
                &["hidden"],
                to,
            ));
            if !last {
                steps.push(Step::new(Op::Relu, &["hidden"], "hidden"));
            }
        }
        Program::new(steps, "logits")
    }
}

/// Load an MLP from safetensors.
pub fn load_mlp(name: &str, safetensors: &[u8], config: MlpConfig) -> Result<Model> {
    let weights = crate::safetensors_loader::load_safetensors(safetensors)?;
    Model::new(name, Architecture::Mlp(config), weights, None)
}

/// Load a CNN from safetensors.
pub fn load_cnn(name: &str, safetensors: &[u8], config: CnnConfig) -> Result<Model> {
    let weights = crate::safetensors_loader::load_safetensors(safetensors)?;
    Model::new(name, Architecture::Cnn(config), weights, None)
}

/// Logits of each row of `rows × width` MLP inputs.
pub fn classify_rows(
    model: &Model,
    executor: &Executor,
    width: usize,
    values: &[f32],
) -> Result<(Vec<f32>, Trace)> {
    if width == 0 || !values.len().is_multiple_of(width) {
        return Err(InferError::EmptyInput);
    }
    let mut input = Activation::new();
    input.set(
        "input",
        Tensor::f32(vec![values.len() / width, width], values.to_vec()),
    );
    let run = model.run(executor, input)?;
    Ok((run.output.f32("logits")?.1.to_vec(), run.trace))
}

/// Logits of one `[channels, height, width]` image through a CNN.
pub fn classify_image(
    model: &Model,
    executor: &Executor,
    shape: [usize; 3],
    values: &[f32],
) -> Result<(Vec<f32>, Trace)> {
    if shape.iter().product::<usize>() != values.len() {
        return Err(InferError::EmptyInput);
    }
    let mut input = Activation::new();
    input.set("image", Tensor::f32(shape.to_vec(), values.to_vec()));
    let run = model.run(executor, input)?;
    Ok((run.output.f32("logits")?.1.to_vec(), run.trace))
}
