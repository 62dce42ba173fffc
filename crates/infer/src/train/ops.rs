//! Training ops: one function per op, each reading named slots of the incoming
//! [`Activation`] and returning the one tensor its step writes.
//!
//! Parameters, gradients and optimiser state are slots like any activation, so a training step
//! is recomputable from the activation before it (and the committed dataset) alone. Every
//! input is checked before a kernel runs: a referee's activation is untrusted.

use super::dataset::Dataset;
use super::gradients::{self, ConvShape};
use crate::error::{InferError, Result};
use crate::kernels::{self, Executor, Matrix};
use crate::tensor::{Activation, Tensor};

/// Most samples in one minibatch.
pub const BATCH_MAX: usize = 4096;
/// Most elements of any tensor a training op produces (256 MiB of f32).
pub const ELEMENTS_MAX: usize = 1 << 26;
/// MNIST's pixel mean and standard deviation (of `pixel / 255` over the training set), the
/// normalisation every MNIST reference uses.
pub const PIXEL_MEAN: f32 = 0.1307;
/// See [`PIXEL_MEAN`].
pub const PIXEL_DEVIATION: f32 = 0.3081;

/// One training operation; its slots are named in the [`TrainStep`].
#[derive(Clone, Debug, PartialEq)]
pub enum TrainOp {
    /// The images of dataset samples `indices`, as `(pixel / 255 - mean) / deviation`:
    /// `[n, pixels]`, or `[n, 1, height, width]` with `planes`.
    GatherImages {
        /// Sample indices in the committed dataset, in minibatch order.
        indices: Vec<u32>,
        /// Whether to keep the image's two dimensions (for convolutions).
        planes: bool,
    },
    /// The labels of dataset samples `indices`: `[n] u32`.
    GatherLabels {
        /// Sample indices in the committed dataset, in minibatch order.
        indices: Vec<u32>,
    },
    /// Inputs `x [n, in], weight [out, in], bias [out]` to `[n, out]`.
    Linear,
    /// `max(x, 0)` elementwise.
    Relu,
    /// Inputs `x [n, c, h, w], weight [o, c, k, k], bias [o]`, stride 1, zero padding.
    Conv2d {
        /// Zero padding on each side.
        padding: usize,
    },
    /// Non-overlapping `size × size` max pooling of `[n, c, h, w]`.
    MaxPool2d {
        /// Window side.
        size: usize,
    },
    /// `[n, …]` to `[n, product of the rest]`.
    Flatten,
    /// Inputs `logits [n, classes], labels [n]` to the mean loss `[1]`.
    CrossEntropy,
    /// Inputs `logits, labels` to `d loss / d logits = (softmax - one_hot) / n`.
    CrossEntropyGradient,
    /// Inputs `x [n, in], dy [n, out]` to `dW [out, in]`.
    LinearWeightGradient,
    /// Inputs `dy [n, out], weight [out, in]` to `dx [n, in]`.
    LinearInputGradient,
    /// Input `dy [n, out]` or `[n, out, h, w]` to `db [out]`.
    BiasGradient,
    /// Inputs `y` (the ReLU's output) and `dy` to `dy` where `y > 0`, else 0.
    ReluGradient,
    /// Inputs `x [n, c, h, w], dy [n, o, h', w']` to `dW [o, c, k, k]`.
    Conv2dWeightGradient {
        /// Kernel side.
        kernel: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// Inputs `dy [n, o, h', w'], weight [o, c, k, k]` to `dx [n, c, h, w]`.
    Conv2dInputGradient {
        /// Zero padding on each side.
        padding: usize,
    },
    /// Inputs `x` (the pooling's input) and `dy` to `dx`.
    MaxPoolGradient {
        /// Window side.
        size: usize,
    },
    /// Input `dy [n, c·h·w]` to `[n, c, h, w]`.
    Unflatten {
        /// `[c, h, w]`.
        shape: [usize; 3],
    },
    /// Inputs `velocity, gradient, parameter` to
    /// `momentum · velocity + (gradient + weight_decay · parameter)` (PyTorch's SGD).
    Momentum {
        /// Momentum factor.
        momentum: f32,
        /// L2 weight decay factor.
        weight_decay: f32,
    },
    /// Inputs `parameter, velocity` to `parameter - learning_rate · velocity`.
    Descend {
        /// This minibatch's learning rate, from the schedule.
        learning_rate: f32,
    },
}

/// One step: `output = op(inputs…)`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainStep {
    /// What the step computes.
    pub op: TrainOp,
    /// The slots it reads, in the op's order.
    pub inputs: Vec<String>,
    /// The slot it writes.
    pub output: String,
}

impl TrainStep {
    /// A step of `op` from `inputs` to `output`.
    pub fn new(op: TrainOp, inputs: &[&str], output: &str) -> TrainStep {
        TrainStep {
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.to_string(),
        }
    }

    /// A short name for reports: the op and its output slot.
    pub fn label(&self) -> String {
        let op = format!("{:?}", self.op);
        let name = op.split([' ', '{']).next().unwrap_or_default();
        format!("{name} -> {}", self.output)
    }
}

fn shape_error(slot: &str, shape: &[usize], reason: impl Into<String>) -> InferError {
    InferError::SlotShape {
        slot: slot.to_string(),
        actual: shape.to_vec(),
        reason: reason.into(),
    }
}

/// An f32 slot of rank `rank` whose first dimension (the batch) is in `1..=BATCH_MAX` when
/// `batched`.
fn slot<'a>(
    activation: &'a Activation,
    name: &str,
    rank: usize,
    batched: bool,
) -> Result<(&'a [usize], &'a [f32])> {
    let (shape, values) = activation.f32(name)?;
    if shape.len() != rank || shape.contains(&0) {
        return Err(shape_error(name, shape, format!("expected rank {rank}")));
    }
    if batched && shape[0] > BATCH_MAX {
        return Err(shape_error(
            name,
            shape,
            format!("more than {BATCH_MAX} samples"),
        ));
    }
    if values.len() > ELEMENTS_MAX {
        return Err(shape_error(name, shape, "too large"));
    }
    Ok((shape, values))
}

fn same_shape(name: &str, shape: &[usize], expected: &[usize]) -> Result<()> {
    if shape != expected {
        return Err(shape_error(name, shape, format!("expected {expected:?}")));
    }
    Ok(())
}

/// What every op may read besides its slots.
pub struct Context<'a> {
    /// The threads (they change speed only).
    pub executor: &'a Executor,
    /// The committed dataset that gather steps read.
    pub dataset: &'a Dataset,
}

/// Compute `step` on `input`: the tensor for the step's output slot.
pub fn compute(context: &Context<'_>, step: &TrainStep, input: &Activation) -> Result<Tensor> {
    let names: Vec<&str> = step.inputs.iter().map(String::as_str).collect();
    let executor = context.executor;
    match (&step.op, names.as_slice()) {
        (TrainOp::GatherImages { indices, planes }, []) => {
            gather_images(context.dataset, indices, *planes)
        }
        (TrainOp::GatherLabels { indices }, []) => gather_labels(context.dataset, indices),
        (TrainOp::Linear, [x, w, b]) => linear(executor, input, x, w, b),
        (TrainOp::Relu, [x]) => relu(executor, input, x),
        (TrainOp::Conv2d { padding }, [x, w, b]) => conv2d(executor, input, *padding, x, w, b),
        (TrainOp::MaxPool2d { size }, [x]) => max_pool(input, *size, x),
        (TrainOp::Flatten, [x]) => flatten(input, x),
        (TrainOp::CrossEntropy, [logits, labels]) => {
            let (loss, _) = cross_entropy(input, logits, labels)?;
            Ok(Tensor::f32(vec![1], vec![loss]))
        }
        (TrainOp::CrossEntropyGradient, [logits, labels]) => {
            let (_, gradient) = cross_entropy(input, logits, labels)?;
            Ok(gradient)
        }
        (TrainOp::LinearWeightGradient, [x, dy]) => linear_weight_gradient(executor, input, x, dy),
        (TrainOp::LinearInputGradient, [dy, w]) => linear_input_gradient(executor, input, dy, w),
        (TrainOp::BiasGradient, [dy]) => bias_gradient(input, dy),
        (TrainOp::ReluGradient, [y, dy]) => relu_gradient(input, y, dy),
        (TrainOp::Conv2dWeightGradient { kernel, padding }, [x, dy]) => {
            conv2d_weight_gradient(executor, input, *kernel, *padding, x, dy)
        }
        (TrainOp::Conv2dInputGradient { padding }, [dy, w]) => {
            conv2d_input_gradient(executor, input, *padding, dy, w)
        }
        (TrainOp::MaxPoolGradient { size }, [x, dy]) => max_pool_gradient(input, *size, x, dy),
        (TrainOp::Unflatten { shape }, [dy]) => unflatten(input, *shape, dy),
        (
            TrainOp::Momentum {
                momentum,
                weight_decay,
            },
            [velocity, gradient, parameter],
        ) => momentum_step(
            executor,
            input,
            (*momentum, *weight_decay),
            [velocity, gradient, parameter],
        ),
        (TrainOp::Descend { learning_rate }, [parameter, velocity]) => {
            descend(executor, input, *learning_rate, parameter, velocity)
        }
        (op, _) => Err(InferError::UnsupportedConfig(format!(
            "{op:?} cannot read {} slots",
            names.len()
        ))),
    }
}

fn gather_images(dataset: &Dataset, indices: &[u32], planes: bool) -> Result<Tensor> {
    if indices.is_empty() || indices.len() > BATCH_MAX {
        return Err(InferError::UnsupportedConfig(format!(
            "a minibatch of {} samples is outside 1..={BATCH_MAX}",
            indices.len()
        )));
    }
    // The normalised value of each of the 256 pixel values, computed once by the formula
    // below: a table lookup gives the bits of the formula without its two divisions.
    let table: [f32; 256] = std::array::from_fn(normalise_pixel);
    let mut values = Vec::with_capacity(indices.len() * dataset.pixels());
    for &index in indices {
        let (pixels, _) = dataset.sample(index as usize)?;
        values.extend(pixels.iter().map(|&p| table[p as usize]));
    }
    let (height, width) = dataset.image_size();
    let shape = if planes {
        vec![indices.len(), 1, height, width]
    } else {
        vec![indices.len(), height * width]
    };
    Ok(Tensor::f32(shape, values))
}

/// A pixel byte as the network reads it: `(p / 255 - mean) / deviation` in f32.
pub fn normalise_pixel(pixel: usize) -> f32 {
    (pixel as f32 / 255.0 - PIXEL_MEAN) / PIXEL_DEVIATION
}

fn gather_labels(dataset: &Dataset, indices: &[u32]) -> Result<Tensor> {
    if indices.is_empty() || indices.len() > BATCH_MAX {
        return Err(InferError::UnsupportedConfig("minibatch size".into()));
    }
    let labels = indices
        .iter()
        .map(|&index| {
            dataset
                .sample(index as usize)
                .map(|(_, label)| label as u32)
        })
        .collect::<Result<Vec<u32>>>()?;
    Ok(Tensor::u32(vec![indices.len()], labels))
}

fn linear(executor: &Executor, input: &Activation, x: &str, w: &str, b: &str) -> Result<Tensor> {
    let (w_shape, weight) = slot(input, w, 2, false)?;
    let (outer, inner) = (w_shape[0], w_shape[1]);
    let (x_shape, values) = slot(input, x, 2, true)?;
    same_shape(x, x_shape, &[x_shape[0], inner])?;
    let (b_shape, bias) = slot(input, b, 1, false)?;
    same_shape(b, b_shape, &[outer])?;
    let n = x_shape[0];
    check_elements(x, n * outer)?;
    let y = kernels::linear(
        executor,
        values,
        n,
        inner,
        Matrix::F32(weight),
        outer,
        Some(bias),
    );
    Ok(Tensor::f32(vec![n, outer], y))
}

fn check_elements(slot: &str, elements: usize) -> Result<()> {
    if elements > ELEMENTS_MAX {
        return Err(shape_error(
            slot,
            &[elements],
            "the output would be too large",
        ));
    }
    Ok(())
}

/// Elements per task of an elementwise op.
const ELEMENTWISE_CHUNK: usize = 16 << 10;

/// `values[i] = f(values[i], b[i], c[i])` in place on the executor's threads. Each element is
/// computed from its own inputs alone, so the split changes nothing; the chunks are zipped
/// slices, so the loop has no bounds checks and vectorises.
fn elementwise_in_place(
    executor: &Executor,
    values: &mut [f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> f32 + Sync + Send,
) {
    debug_assert!(b.len() == values.len() && c.len() == values.len());
    executor.for_each_chunk(values, ELEMENTWISE_CHUNK, |chunk, values| {
        let start = chunk * ELEMENTWISE_CHUNK;
        let (b, c) = (
            &b[start..start + values.len()],
            &c[start..start + values.len()],
        );
        for ((value, b), c) in values.iter_mut().zip(b).zip(c) {
            *value = f(*value, *b, *c);
        }
    });
}

/// `out[i] = f(a[i], b[i], c[i])` on the executor's threads.
fn elementwise3(
    executor: &Executor,
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> f32 + Sync + Send,
) -> Vec<f32> {
    let mut out = a.to_vec();
    elementwise_in_place(executor, &mut out, b, c, f);
    out
}

fn relu(executor: &Executor, input: &Activation, x: &str) -> Result<Tensor> {
    let (shape, values) = input.f32(x)?;
    let y = elementwise3(executor, values, values, values, |v, _, _| v.max(0.0));
    Ok(Tensor::f32(shape.to_vec(), y))
}

fn relu_gradient(input: &Activation, y: &str, dy: &str) -> Result<Tensor> {
    let (shape, output) = input.f32(y)?;
    let (dy_shape, gradient) = input.f32(dy)?;
    same_shape(dy, dy_shape, shape)?;
    let dx = output
        .iter()
        .zip(gradient)
        .map(|(o, g)| if *o > 0.0 { *g } else { 0.0 })
        .collect();
    Ok(Tensor::f32(shape.to_vec(), dx))
}

/// The convolution geometry of `x [n, c, h, w]` and `weight [o, c, k, k]`, checked.
fn conv_shape(
    input: &Activation,
    x_shape: &[usize],
    w: &str,
    padding: usize,
) -> Result<(ConvShape, usize)> {
    let (w_shape, _) = slot(input, w, 4, false)?;
    let (out_channels, channels, kernel) = (w_shape[0], w_shape[1], w_shape[2]);
    same_shape(w, w_shape, &[out_channels, channels, kernel, kernel])?;
    let shape = ConvShape {
        channels: x_shape[1],
        height: x_shape[2],
        width: x_shape[3],
        kernel,
        padding,
    };
    if shape.channels != channels
        || padding > kernel
        || shape.height + 2 * padding < kernel
        || shape.width + 2 * padding < kernel
    {
        return Err(shape_error(
            w,
            w_shape,
            format!("does not fit an input of {x_shape:?}"),
        ));
    }
    check_elements(
        w,
        x_shape[0] * shape.positions() * shape.patch().max(out_channels),
    )?;
    Ok((shape, out_channels))
}

fn conv2d(
    executor: &Executor,
    input: &Activation,
    padding: usize,
    x: &str,
    w: &str,
    b: &str,
) -> Result<Tensor> {
    let (x_shape, values) = slot(input, x, 4, true)?;
    let (shape, out_channels) = conv_shape(input, x_shape, w, padding)?;
    let (b_shape, bias) = slot(input, b, 1, false)?;
    same_shape(b, b_shape, &[out_channels])?;
    let (_, weight) = input.f32(w)?;
    let n = x_shape[0];
    let y = gradients::conv2d_forward(executor, values, n, shape, weight, out_channels, bias);
    let (out_h, out_w) = shape.output();
    Ok(Tensor::f32(vec![n, out_channels, out_h, out_w], y))
}

fn conv2d_weight_gradient(
    executor: &Executor,
    input: &Activation,
    kernel: usize,
    padding: usize,
    x: &str,
    dy: &str,
) -> Result<Tensor> {
    let (x_shape, values) = slot(input, x, 4, true)?;
    let (dy_shape, gradient) = slot(input, dy, 4, true)?;
    let shape = ConvShape {
        channels: x_shape[1],
        height: x_shape[2],
        width: x_shape[3],
        kernel,
        padding,
    };
    if padding > kernel || shape.height + 2 * padding < kernel || shape.width + 2 * padding < kernel
    {
        return Err(shape_error(x, x_shape, "smaller than the kernel"));
    }
    let (out_h, out_w) = shape.output();
    let n = x_shape[0];
    same_shape(dy, dy_shape, &[n, dy_shape[1], out_h, out_w])?;
    check_elements(x, n * shape.positions() * shape.patch())?;
    let out_channels = dy_shape[1];
    let dw = gradients::conv2d_weight_gradient(executor, values, gradient, n, shape, out_channels);
    Ok(Tensor::f32(
        vec![out_channels, shape.channels, kernel, kernel],
        dw,
    ))
}

fn conv2d_input_gradient(
    executor: &Executor,
    input: &Activation,
    padding: usize,
    dy: &str,
    w: &str,
) -> Result<Tensor> {
    let (dy_shape, gradient) = slot(input, dy, 4, true)?;
    let (w_shape, weight) = slot(input, w, 4, false)?;
    let (out_channels, channels, kernel) = (w_shape[0], w_shape[1], w_shape[2]);
    same_shape(w, w_shape, &[out_channels, channels, kernel, kernel])?;
    same_shape(
        dy,
        dy_shape,
        &[dy_shape[0], out_channels, dy_shape[2], dy_shape[3]],
    )?;
    let (height, width) = (
        (dy_shape[2] + kernel - 1).checked_sub(2 * padding),
        (dy_shape[3] + kernel - 1).checked_sub(2 * padding),
    );
    let (Some(height), Some(width)) = (height, width) else {
        return Err(shape_error(dy, dy_shape, "smaller than the padding"));
    };
    let shape = ConvShape {
        channels,
        height,
        width,
        kernel,
        padding,
    };
    let n = dy_shape[0];
    check_elements(dy, n * shape.positions() * shape.patch())?;
    let dx = gradients::conv2d_input_gradient(executor, gradient, weight, n, shape, out_channels);
    Ok(Tensor::f32(vec![n, channels, height, width], dx))
}

fn max_pool(input: &Activation, size: usize, x: &str) -> Result<Tensor> {
    let (shape, values) = slot(input, x, 4, true)?;
    let (n, c, height, width) = (shape[0], shape[1], shape[2], shape[3]);
    if size == 0 || height < size || width < size {
        return Err(shape_error(x, shape, "smaller than the pooling window"));
    }
    let y = gradients::max_pool(values, n * c, height, width, size);
    Ok(Tensor::f32(vec![n, c, height / size, width / size], y))
}

fn max_pool_gradient(input: &Activation, size: usize, x: &str, dy: &str) -> Result<Tensor> {
    let (shape, values) = slot(input, x, 4, true)?;
    let (n, c, height, width) = (shape[0], shape[1], shape[2], shape[3]);
    if size == 0 || height < size || width < size {
        return Err(shape_error(x, shape, "smaller than the pooling window"));
    }
    let (dy_shape, gradient) = input.f32(dy)?;
    same_shape(dy, dy_shape, &[n, c, height / size, width / size])?;
    let dx = gradients::max_pool_gradient(values, gradient, n * c, height, width, size);
    Ok(Tensor::f32(shape.to_vec(), dx))
}

fn flatten(input: &Activation, x: &str) -> Result<Tensor> {
    let (shape, values) = input.f32(x)?;
    let Some(&n) = shape.first() else {
        return Err(shape_error(x, shape, "expected a batch dimension"));
    };
    Ok(Tensor::f32(
        vec![n, values.len() / n.max(1)],
        values.to_vec(),
    ))
}

fn unflatten(input: &Activation, shape: [usize; 3], dy: &str) -> Result<Tensor> {
    let (dy_shape, values) = slot(input, dy, 2, true)?;
    same_shape(dy, dy_shape, &[dy_shape[0], shape.iter().product()])?;
    let [c, h, w] = shape;
    Ok(Tensor::f32(vec![dy_shape[0], c, h, w], values.to_vec()))
}

fn cross_entropy(input: &Activation, logits: &str, labels: &str) -> Result<(f32, Tensor)> {
    let (shape, values) = slot(input, logits, 2, true)?;
    let (label_shape, targets) = input.u32(labels)?;
    same_shape(labels, label_shape, &shape[..1])?;
    let classes = shape[1];
    if let Some(bad) = targets.iter().find(|&&t| t as usize >= classes) {
        return Err(shape_error(
            labels,
            label_shape,
            format!("label {bad} ≥ {classes} classes"),
        ));
    }
    let (loss, gradient) = gradients::cross_entropy(values, targets, classes);
    Ok((loss, Tensor::f32(shape.to_vec(), gradient)))
}

fn linear_weight_gradient(
    executor: &Executor,
    input: &Activation,
    x: &str,
    dy: &str,
) -> Result<Tensor> {
    let (x_shape, values) = slot(input, x, 2, true)?;
    let (dy_shape, gradient) = slot(input, dy, 2, true)?;
    same_shape(dy, dy_shape, &[x_shape[0], dy_shape[1]])?;
    let (n, inner, outer) = (x_shape[0], x_shape[1], dy_shape[1]);
    check_elements(x, inner * outer)?;
    let dw = gradients::weight_gradient(executor, values, gradient, n, inner, outer);
    Ok(Tensor::f32(vec![outer, inner], dw))
}

fn linear_input_gradient(
    executor: &Executor,
    input: &Activation,
    dy: &str,
    w: &str,
) -> Result<Tensor> {
    let (w_shape, weight) = slot(input, w, 2, false)?;
    let (dy_shape, gradient) = slot(input, dy, 2, true)?;
    same_shape(dy, dy_shape, &[dy_shape[0], w_shape[0]])?;
    let (n, inner, outer) = (dy_shape[0], w_shape[1], w_shape[0]);
    check_elements(dy, n * inner)?;
    let dx = gradients::input_gradient(executor, gradient, weight, n, inner, outer);
    Ok(Tensor::f32(vec![n, inner], dx))
}

fn bias_gradient(input: &Activation, dy: &str) -> Result<Tensor> {
    let (shape, gradient) = input.f32(dy)?;
    let (n, channels, positions) = match shape {
        [n, channels] => (*n, *channels, 1),
        [n, channels, h, w] => (*n, *channels, h * w),
        _ => {
            return Err(shape_error(
                dy,
                shape,
                "expected [n, out] or [n, out, h, w]",
            ))
        }
    };
    let db = gradients::bias_gradient(gradient, n, channels, positions);
    Ok(Tensor::f32(vec![channels], db))
}

/// PyTorch's SGD momentum buffer update, `μ·v + (g + λ·p)`, one element.
#[inline(always)]
fn momentum_value(momentum: f32, weight_decay: f32, v: f32, g: f32, p: f32) -> f32 {
    momentum * v + (g + weight_decay * p)
}

/// Checks of a momentum step's slots: gradient and parameter shaped like the velocity.
fn check_momentum(
    input: &Activation,
    [velocity, gradient, parameter]: [&str; 3],
) -> Result<Vec<usize>> {
    let (shape, _) = input.f32(velocity)?;
    let (g_shape, _) = input.f32(gradient)?;
    let (p_shape, _) = input.f32(parameter)?;
    same_shape(gradient, g_shape, shape)?;
    same_shape(parameter, p_shape, shape)?;
    Ok(shape.to_vec())
}

fn momentum_step(
    executor: &Executor,
    input: &Activation,
    (momentum, weight_decay): (f32, f32),
    slots: [&str; 3],
) -> Result<Tensor> {
    let shape = check_momentum(input, slots)?;
    let [velocity, gradient, parameter] = slots;
    let (v, g, p) = (
        input.f32(velocity)?.1,
        input.f32(gradient)?.1,
        input.f32(parameter)?.1,
    );
    let next = elementwise3(executor, v, g, p, |v, g, p| {
        momentum_value(momentum, weight_decay, v, g, p)
    });
    Ok(Tensor::f32(shape, next))
}

fn check_descend(input: &Activation, parameter: &str, velocity: &str) -> Result<Vec<usize>> {
    let (shape, _) = input.f32(parameter)?;
    let (v_shape, _) = input.f32(velocity)?;
    same_shape(velocity, v_shape, shape)?;
    Ok(shape.to_vec())
}

fn descend(
    executor: &Executor,
    input: &Activation,
    learning_rate: f32,
    parameter: &str,
    velocity: &str,
) -> Result<Tensor> {
    let shape = check_descend(input, parameter, velocity)?;
    let (p, v) = (input.f32(parameter)?.1, input.f32(velocity)?.1);
    let next = elementwise3(executor, p, v, v, |p, v, _| p - learning_rate * v);
    Ok(Tensor::f32(shape, next))
}

/// Compute `step` by overwriting the slot it reads and writes, when it is an update step
/// (`Momentum` rewrites the velocity, `Descend` the parameter) and its other inputs are other
/// slots: the same checks and the same arithmetic as [`compute`], without allocating and
/// filling a new parameter-sized tensor. Returns `Ok(false)` for every other step, which
/// [`compute`] must run. Whoever owns the activation (a training run) may use it; a referee,
/// which must keep its input, uses [`compute`].
pub fn compute_in_place(
    context: &Context<'_>,
    step: &TrainStep,
    activation: &mut Activation,
) -> Result<bool> {
    let names: Vec<&str> = step.inputs.iter().map(String::as_str).collect();
    let distinct = |slots: &[&str]| slots.iter().skip(1).all(|slot| *slot != slots[0]);
    match (&step.op, names.as_slice()) {
        (
            TrainOp::Momentum {
                momentum,
                weight_decay,
            },
            &[velocity, gradient, parameter],
        ) if velocity == step.output && distinct(&names) => {
            check_momentum(activation, [velocity, gradient, parameter])?;
            let (momentum, weight_decay) = (*momentum, *weight_decay);
            let mut v = take_f32(activation, velocity)?;
            let (g, p) = (activation.f32(gradient)?.1, activation.f32(parameter)?.1);
            elementwise_in_place(context.executor, &mut v, g, p, |v, g, p| {
                momentum_value(momentum, weight_decay, v, g, p)
            });
            put_f32(activation, velocity, v)?;
            Ok(true)
        }
        (TrainOp::Descend { learning_rate }, &[parameter, velocity])
            if parameter == step.output && distinct(&names) =>
        {
            check_descend(activation, parameter, velocity)?;
            let learning_rate = *learning_rate;
            let mut p = take_f32(activation, parameter)?;
            let v = activation.f32(velocity)?.1;
            elementwise_in_place(context.executor, &mut p, v, v, |p, v, _| {
                p - learning_rate * v
            });
            put_f32(activation, parameter, p)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The values of f32 slot `name`, moved out (the slot is left empty until [`put_f32`]).
fn take_f32(activation: &mut Activation, name: &str) -> Result<Vec<f32>> {
    match activation.get_mut(name)? {
        Tensor {
            data: crate::tensor::Data::F32(values),
            ..
        } => Ok(std::mem::take(values)),
        _ => Err(InferError::MissingSlot(name.to_string())),
    }
}

/// Put back the values [`take_f32`] moved out.
fn put_f32(activation: &mut Activation, name: &str, values: Vec<f32>) -> Result<()> {
    if let Tensor {
        data: crate::tensor::Data::F32(slot),
        ..
    } = activation.get_mut(name)?
    {
        *slot = values;
    }
    Ok(())
}
