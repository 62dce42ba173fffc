//! The networks training runs (the MNIST MLP and CNN of [`crate::models::mlp`]), as lists of
//! layers that expand into forward, loss, backward and update steps.
//!
//! Parameter slots carry the inference models' tensor names (`layers.{i}.*` for the MLP,
//! `conv.{i}.*` and `dense.{i}.*` for the CNN), so trained parameters load into an inference
//! [`crate::Model`] unchanged; `gradient.{name}` and `velocity.{name}` hold their gradients and
//! momentum buffers.

use super::ops::{TrainOp, TrainStep};
use super::random::Random;
use crate::error::{InferError, Result};
use crate::model::{Architecture, Model};
use crate::models::mlp::{CnnConfig, MlpConfig};
use crate::tensor::{Activation, Tensor};
use crate::weights::WeightStore;

/// A network to train.
#[derive(Clone, Debug, PartialEq)]
pub enum Network {
    /// Multi-layer perceptron over flattened images.
    Mlp(MlpConfig),
    /// Convolutions, flatten, dense layers.
    Cnn(CnnConfig),
}

/// One layer as the step builders see it.
#[derive(Clone, Debug)]
enum Layer {
    Dense {
        prefix: String,
        relu: bool,
    },
    Conv {
        prefix: String,
        padding: usize,
        kernel: usize,
        pool: usize,
    },
    Flatten {
        shape: [usize; 3],
    },
}

/// A parameter: its slot name, shape and fan-in (for initialisation).
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// Slot (and inference tensor) name.
    pub name: String,
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Inputs per output, for the initial scale `1 / sqrt(fan_in)`.
    pub fan_in: usize,
}

/// The slots a layer's forward steps read and wrote, for its backward steps.
struct Record {
    layer: Layer,
    input: String,
    /// The slot the layer's last forward step wrote.
    output: String,
    /// The ReLU's output, when it has one.
    relu: Option<String>,
}

impl Network {
    /// The MNIST MLP of the benchmark: 784 → 256 → ReLU → 10.
    pub fn mnist_mlp() -> Network {
        Network::Mlp(MlpConfig {
            widths: vec![784, 256, 10],
        })
    }

    /// The MNIST CNN of the benchmark: two 5 × 5 convolutions (16 and 32 channels, padding
    /// 2) each with ReLU and 2 × 2 max pooling, then one dense layer to 10 classes.
    pub fn mnist_cnn() -> Network {
        let conv = |out_channels| crate::models::mlp::ConvLayer {
            out_channels,
            kernel: 5,
            padding: 2,
            pool: 2,
        };
        Network::Cnn(CnnConfig {
            channels: 1,
            height: 28,
            width: 28,
            convs: vec![conv(16), conv(32)],
            dense: vec![10],
        })
    }

    /// The inference architecture with the same tensors.
    pub fn architecture(&self) -> Architecture {
        match self {
            Network::Mlp(config) => Architecture::Mlp(config.clone()),
            Network::Cnn(config) => Architecture::Cnn(config.clone()),
        }
    }

    /// Whether the input is images (`[n, 1, h, w]`) rather than flat rows.
    pub fn takes_planes(&self) -> bool {
        matches!(self, Network::Cnn(_))
    }

    fn layers(&self) -> Result<(Vec<Layer>, Vec<Parameter>)> {
        match self {
            Network::Mlp(config) => mlp_layers(config),
            Network::Cnn(config) => cnn_layers(config),
        }
    }

    /// Every parameter, in slot order.
    pub fn parameters(&self) -> Result<Vec<Parameter>> {
        Ok(self.layers()?.1)
    }

    /// Forward steps from the `input` slot; returns them and the logits slot.
    pub fn forward_steps(&self) -> Result<(Vec<TrainStep>, String)> {
        let (layers, _) = self.layers()?;
        let (steps, records) = forward(&layers);
        let logits = records
            .last()
            .map(|record| record.output.clone())
            .unwrap_or_else(|| "input".to_string());
        Ok((steps, logits))
    }

    /// Forward, loss, backward and update steps of one minibatch (gather steps excluded):
    /// every parameter's gradient, then each parameter's momentum and descent in slot order.
    pub fn training_steps(
        &self,
        momentum: f32,
        weight_decay: f32,
        learning_rate: f32,
    ) -> Result<Vec<TrainStep>> {
        let (layers, parameters) = self.layers()?;
        let (mut steps, records) = forward(&layers);
        let logits = records
            .last()
            .map(|record| record.output.clone())
            .ok_or_else(|| InferError::UnsupportedConfig("a network needs layers".into()))?;
        steps.push(TrainStep::new(
            TrainOp::CrossEntropy,
            &[&logits, "labels"],
            "loss",
        ));
        let mut gradient = format!("gradient.{logits}");
        steps.push(TrainStep::new(
            TrainOp::CrossEntropyGradient,
            &[&logits, "labels"],
            &gradient,
        ));
        for (index, record) in records.iter().enumerate().rev() {
            gradient = backward(record, index == 0, &gradient, &mut steps);
        }
        for parameter in &parameters {
            let name = parameter.name.as_str();
            let (velocity, grad) = (format!("velocity.{name}"), format!("gradient.{name}"));
            steps.push(TrainStep::new(
                TrainOp::Momentum {
                    momentum,
                    weight_decay,
                },
                &[&velocity, &grad, name],
                &velocity,
            ));
            steps.push(TrainStep::new(
                TrainOp::Descend { learning_rate },
                &[name, &velocity],
                name,
            ));
        }
        Ok(steps)
    }

    /// Parameters drawn uniformly from `±1 / sqrt(fan_in)` (PyTorch's default for linear and
    /// convolution layers) in slot order from one seeded stream, then zero velocities.
    pub fn initial_state(&self, seed: u64) -> Result<Activation> {
        let parameters = self.parameters()?;
        let mut random = Random::new(seed, u64::MAX);
        let mut state = Activation::new();
        for parameter in &parameters {
            let count: usize = parameter.shape.iter().product();
            let bound = 1.0 / (parameter.fan_in as f64).sqrt();
            let values = (0..count)
                .map(|_| ((random.unit() * 2.0 - 1.0) * bound) as f32)
                .collect();
            state.set(
                &parameter.name,
                Tensor::f32(parameter.shape.clone(), values),
            );
        }
        for parameter in &parameters {
            let count: usize = parameter.shape.iter().product();
            state.set(
                &format!("velocity.{}", parameter.name),
                Tensor::f32(parameter.shape.clone(), vec![0.0; count]),
            );
        }
        Ok(state)
    }

    /// The inference model with the parameters of `state`.
    pub fn to_model(&self, name: &str, state: &Activation) -> Result<Model> {
        let mut weights = WeightStore::new();
        for parameter in self.parameters()? {
            let (shape, values) = state.f32(&parameter.name)?;
            weights.insert_f32(&parameter.name, shape.to_vec(), values)?;
        }
        Model::new(name, self.architecture(), weights, None)
    }
}

fn mlp_layers(config: &MlpConfig) -> Result<(Vec<Layer>, Vec<Parameter>)> {
    if config.widths.len() < 2 || config.widths.len() > 64 {
        return Err(InferError::UnsupportedConfig(
            "an MLP needs 2..=64 widths".into(),
        ));
    }
    let (mut layers, mut parameters) = (Vec::new(), Vec::new());
    let last = config.widths.len() - 2;
    for (index, pair) in config.widths.windows(2).enumerate() {
        let (inner, outer) = (pair[0] as usize, pair[1] as usize);
        let prefix = format!("layers.{index}");
        dense_parameters(&prefix, inner, outer, &mut parameters);
        layers.push(Layer::Dense {
            prefix,
            relu: index < last,
        });
    }
    Ok((layers, parameters))
}

fn dense_parameters(prefix: &str, inner: usize, outer: usize, parameters: &mut Vec<Parameter>) {
    parameters.push(Parameter {
        name: format!("{prefix}.weight"),
        shape: vec![outer, inner],
        fan_in: inner,
    });
    parameters.push(Parameter {
        name: format!("{prefix}.bias"),
        shape: vec![outer],
        fan_in: inner,
    });
}

fn cnn_layers(config: &CnnConfig) -> Result<(Vec<Layer>, Vec<Parameter>)> {
    if config.dense.is_empty() || config.dense.len() > 32 || config.convs.len() > 32 {
        return Err(InferError::UnsupportedConfig(
            "a CNN needs 0..=32 convs and 1..=32 dense layers".into(),
        ));
    }
    let (mut layers, mut parameters) = (Vec::new(), Vec::new());
    let (mut c, mut h, mut w) = (
        config.channels as usize,
        config.height as usize,
        config.width as usize,
    );
    for (index, conv) in config.convs.iter().enumerate() {
        let (out, kernel, padding, pool) = (
            conv.out_channels as usize,
            conv.kernel as usize,
            conv.padding as usize,
            conv.pool as usize,
        );
        if kernel == 0 || pool == 0 || h + 2 * padding < kernel || w + 2 * padding < kernel {
            return Err(InferError::UnsupportedConfig(
                "convolution larger than its input".into(),
            ));
        }
        let prefix = format!("conv.{index}");
        parameters.push(Parameter {
            name: format!("{prefix}.weight"),
            shape: vec![out, c, kernel, kernel],
            fan_in: c * kernel * kernel,
        });
        parameters.push(Parameter {
            name: format!("{prefix}.bias"),
            shape: vec![out],
            fan_in: c * kernel * kernel,
        });
        layers.push(Layer::Conv {
            prefix,
            padding,
            kernel,
            pool,
        });
        (c, h, w) = (
            out,
            (h + 2 * padding + 1 - kernel) / pool,
            (w + 2 * padding + 1 - kernel) / pool,
        );
    }
    if !config.convs.is_empty() {
        layers.push(Layer::Flatten { shape: [c, h, w] });
    }
    let mut inner = c * h * w;
    let last = config.dense.len() - 1;
    for (index, &outer) in config.dense.iter().enumerate() {
        let prefix = format!("dense.{index}");
        dense_parameters(&prefix, inner, outer as usize, &mut parameters);
        layers.push(Layer::Dense {
            prefix,
            relu: index < last,
        });
        inner = outer as usize;
    }
    Ok((layers, parameters))
}

/// Forward steps of `layers` from slot `input`.
fn forward(layers: &[Layer]) -> (Vec<TrainStep>, Vec<Record>) {
    let (mut steps, mut records) = (Vec::new(), Vec::new());
    let mut current = "input".to_string();
    for layer in layers {
        let input = current.clone();
        let mut relu = None;
        match layer {
            Layer::Dense {
                prefix,
                relu: with_relu,
            } => {
                let (w, b) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
                current = format!("{prefix}.linear");
                steps.push(TrainStep::new(TrainOp::Linear, &[&input, &w, &b], &current));
                if *with_relu {
                    let out = format!("{prefix}.relu");
                    steps.push(TrainStep::new(TrainOp::Relu, &[&current], &out));
                    relu = Some(out.clone());
                    current = out;
                }
            }
            Layer::Conv {
                prefix,
                padding,
                pool,
                ..
            } => {
                let (w, b) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
                let (conv, out) = (format!("{prefix}.conv"), format!("{prefix}.relu"));
                let padding = *padding;
                steps.push(TrainStep::new(
                    TrainOp::Conv2d { padding },
                    &[&input, &w, &b],
                    &conv,
                ));
                steps.push(TrainStep::new(TrainOp::Relu, &[&conv], &out));
                relu = Some(out.clone());
                current = out;
                if *pool > 1 {
                    let pooled = format!("{prefix}.pool");
                    steps.push(TrainStep::new(
                        TrainOp::MaxPool2d { size: *pool },
                        &[&current],
                        &pooled,
                    ));
                    current = pooled;
                }
            }
            Layer::Flatten { .. } => {
                current = "flat".to_string();
                steps.push(TrainStep::new(TrainOp::Flatten, &[&input], &current));
            }
        }
        records.push(Record {
            layer: layer.clone(),
            input,
            output: current.clone(),
            relu,
        });
    }
    (steps, records)
}

/// Backward steps of one layer given the gradient slot of its output; returns the gradient
/// slot of its input (none is computed for the first layer).
fn backward(record: &Record, first: bool, gradient: &str, steps: &mut Vec<TrainStep>) -> String {
    let input_gradient = format!("gradient.{}", record.input);
    match &record.layer {
        Layer::Flatten { shape } => steps.push(TrainStep::new(
            TrainOp::Unflatten { shape: *shape },
            &[gradient],
            &input_gradient,
        )),
        Layer::Dense { prefix, .. } => {
            let gradient = match &record.relu {
                Some(relu) => {
                    let before = format!("gradient.{prefix}.linear");
                    steps.push(TrainStep::new(
                        TrainOp::ReluGradient,
                        &[relu, gradient],
                        &before,
                    ));
                    before
                }
                None => gradient.to_string(),
            };
            let input = (!first).then_some((TrainOp::LinearInputGradient, input_gradient.as_str()));
            parameter_gradients(
                prefix,
                TrainOp::LinearWeightGradient,
                (&record.input, &gradient),
                input,
                steps,
            );
        }
        Layer::Conv {
            prefix,
            padding,
            kernel,
            pool,
        } => {
            let relu = record.relu.clone().unwrap_or_default();
            let mut gradient = gradient.to_string();
            if *pool > 1 {
                let before = format!("gradient.{relu}");
                steps.push(TrainStep::new(
                    TrainOp::MaxPoolGradient { size: *pool },
                    &[&relu, &gradient],
                    &before,
                ));
                gradient = before;
            }
            let before = format!("gradient.{prefix}.conv");
            steps.push(TrainStep::new(
                TrainOp::ReluGradient,
                &[&relu, &gradient],
                &before,
            ));
            let weight_op = TrainOp::Conv2dWeightGradient {
                kernel: *kernel,
                padding: *padding,
            };
            let input_op = TrainOp::Conv2dInputGradient { padding: *padding };
            let input = (!first).then_some((input_op, input_gradient.as_str()));
            parameter_gradients(prefix, weight_op, (&record.input, &before), input, steps);
        }
    }
    input_gradient
}

/// The weight gradient (`weight_op` on the layer's input and output gradient), the bias
/// gradient and, when `input` names an op and a slot, the input gradient of layer `prefix`.
fn parameter_gradients(
    prefix: &str,
    weight_op: TrainOp,
    (layer_input, gradient): (&str, &str),
    input: Option<(TrainOp, &str)>,
    steps: &mut Vec<TrainStep>,
) {
    let weight = format!("{prefix}.weight");
    steps.push(TrainStep::new(
        weight_op,
        &[layer_input, gradient],
        &format!("gradient.{weight}"),
    ));
    steps.push(TrainStep::new(
        TrainOp::BiasGradient,
        &[gradient],
        &format!("gradient.{prefix}.bias"),
    ));
    if let Some((op, output)) = input {
        steps.push(TrainStep::new(op, &[gradient, &weight], output));
    }
}
