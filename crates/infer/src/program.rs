//! Programs: a model as an ordered list of steps, and the one function that runs a step.
//!
//! A [`Step`] applies one op (embed, matmul, attention, norm, activation, residual add,
//! pooling, …) to named slots of the incoming [`Activation`] and writes one slot. After each
//! step the activation keeps only the slots that a later step (or the output) still reads, so
//! the activation after step `i` is exactly what step `i + 1` needs: [`crate::execute_step`] on it
//! alone reproduces step `i + 1` bit for bit. The same function runs full inference and the
//! referee's single step, so the two cannot drift apart.
//!
//! Every input slot is checked against the step's weights before any kernel runs: an
//! activation from a dispute is untrusted.

use crate::error::{InferError, Result};
use crate::kernels::{self, Executor};
use crate::tensor::{Activation, Tensor};
use crate::weights::WeightStore;

/// One operation. Weights are named by tensor; slots are named in the [`Step`].
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `tokens: [n] u32` to `[n, width]`: row `i` is `(table[token] + type_table[0]) +
    /// position_table[i]`, the parts present added in that order.
    Embed {
        /// Token table `[vocab, width]`.
        table: String,
        /// Token-type table (row 0 is added).
        type_table: Option<String>,
        /// Position table `[positions, width]`.
        position_table: Option<String>,
    },
    /// `[n, in]` to `[n, out]` with weight `[out, in]` and optional bias `[out]`.
    Linear {
        /// Weight `[out, in]`.
        weight: String,
        /// Bias `[out]`.
        bias: Option<String>,
    },
    /// LayerNorm over each row: `(x - mean) / sqrt(variance + eps) · weight + bias`.
    LayerNorm {
        /// Scale `[width]`.
        weight: String,
        /// Shift `[width]`.
        bias: String,
        /// Added to the variance.
        eps: f32,
    },
    /// RMSNorm over each row: `x / sqrt(mean(x²) + eps) · weight`.
    RmsNorm {
        /// Scale `[width]`.
        weight: String,
        /// Added to the mean square.
        eps: f32,
    },
    /// GELU (error function) elementwise.
    Gelu,
    /// `max(x, 0)` elementwise.
    Relu,
    /// `silu(a) * b`, Llama's gated feed-forward.
    SiluMul,
    /// `a + b`, the residual connection.
    Add,
    /// Rotary embedding of each head of `[n, heads * head_dim]`, row `i` at position `i`.
    Rope {
        /// Width of one head.
        head_dim: usize,
        /// Frequency base.
        base: f32,
    },
    /// Inputs `q, k, v`.
    Attention {
        /// Query heads.
        heads: usize,
        /// Key/value heads.
        kv_heads: usize,
        /// Width of one head.
        head_dim: usize,
        /// Whether row `i` sees keys `0..=i` only.
        causal: bool,
    },
    /// `[n, width]` to `[1, width]`, the mean over rows (one summation order: row by row).
    MeanPool,
    /// Each row divided by its Euclidean norm.
    L2Normalize,
    /// `[n, classes]` to `[n] u32`: the index of each row's largest value, first on ties.
    Argmax,
    /// `[channels, height, width]` to `[out, height', width']`, weight `[out, channels, k, k]`.
    Conv2d {
        /// Weight `[out, channels, k, k]`.
        weight: String,
        /// Bias `[out]`.
        bias: String,
        /// Kernel side `k`.
        kernel: usize,
        /// Zero padding on each side.
        padding: usize,
    },
    /// Non-overlapping `size × size` max pooling of `[channels, height, width]`.
    MaxPool2d {
        /// Window side.
        size: usize,
    },
    /// Any shape to `[1, elements]`.
    Flatten,
}

/// One step: `output = op(inputs…)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The operation.
    pub op: Op,
    /// The slots it reads.
    pub inputs: Vec<String>,
    /// The slot it writes.
    pub output: String,
}

impl Step {
    /// A step of `op` from `inputs` to `output`.
    pub fn new(op: Op, inputs: &[&str], output: &str) -> Step {
        Step {
            op,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.into(),
        }
    }

    /// A short name for reports: the op and its output slot.
    pub fn label(&self) -> String {
        let op = match &self.op {
            Op::Embed { .. } => "embed".to_string(),
            Op::Linear { weight, .. } => format!("matmul {weight}"),
            Op::LayerNorm { weight, .. } => format!("layernorm {weight}"),
            Op::RmsNorm { weight, .. } => format!("rmsnorm {weight}"),
            Op::Gelu => "gelu".into(),
            Op::Relu => "relu".into(),
            Op::SiluMul => "silu*".into(),
            Op::Add => "residual add".into(),
            Op::Rope { .. } => "rope".into(),
            Op::Attention { .. } => "attention".into(),
            Op::MeanPool => "mean pooling".into(),
            Op::L2Normalize => "l2 normalize".into(),
            Op::Argmax => "argmax".into(),
            Op::Conv2d { weight, .. } => format!("conv2d {weight}"),
            Op::MaxPool2d { .. } => "maxpool".into(),
            Op::Flatten => "flatten".into(),
        };
        format!("{op} -> {}", self.output)
    }

    /// Weight tensors the step reads.
    pub fn weights(&self) -> Vec<&str> {
        match &self.op {
            Op::Embed {
                table,
                type_table,
                position_table,
            } => std::iter::once(table)
                .chain(type_table)
                .chain(position_table)
                .map(String::as_str)
                .collect(),
            Op::Linear { weight, bias } => std::iter::once(weight)
                .chain(bias)
                .map(String::as_str)
                .collect(),
            Op::LayerNorm { weight, bias, .. } | Op::Conv2d { weight, bias, .. } => {
                vec![weight.as_str(), bias.as_str()]
            }
            Op::RmsNorm { weight, .. } => vec![weight.as_str()],
            _ => Vec::new(),
        }
    }
}

/// An ordered list of steps with the slots live after each.
#[derive(Clone, Debug)]
pub struct Program {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// `live_after[i]`: the slots kept after step `i`.
    pub live_after: Vec<Vec<String>>,
    /// The slot holding the result after the last step.
    pub output: String,
}

impl Program {
    /// A program of `steps` whose result is slot `output`; computes the live slots.
    pub fn new(steps: Vec<Step>, output: &str) -> Program {
        let mut live_after = vec![Vec::new(); steps.len()];
        let mut live: Vec<String> = vec![output.to_string()];
        for (index, step) in steps.iter().enumerate().rev() {
            live_after[index] = live.clone();
            live.retain(|slot| slot != &step.output);
            for input in &step.inputs {
                if !live.contains(input) {
                    live.push(input.clone());
                }
            }
        }
        Program {
            steps,
            live_after,
            output: output.to_string(),
        }
    }

    /// Steps in the program.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the program has no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Index of the first step that reads weight `name`.
    pub fn first_use_of(&self, name: &str) -> Option<usize> {
        self.steps
            .iter()
            .position(|step| step.weights().contains(&name))
    }
}

/// Elements per task of an elementwise op: each output depends on its own inputs only, so the
/// split changes nothing but speed.
const ELEMENTWISE_CHUNK: usize = 16 << 10;

fn shape_error(slot: &str, shape: &[usize], reason: impl Into<String>) -> InferError {
    InferError::SlotShape {
        slot: slot.to_string(),
        actual: shape.to_vec(),
        reason: reason.into(),
    }
}

/// A 2-D `[rows, width]` f32 slot, with `width` checked when given.
fn matrix<'a>(
    activation: &'a Activation,
    slot: &str,
    width: Option<usize>,
) -> Result<(usize, usize, &'a [f32])> {
    let (shape, values) = activation.f32(slot)?;
    match (shape, width) {
        ([rows, w], Some(expected)) if *w == expected && *rows > 0 => Ok((*rows, *w, values)),
        ([rows, w], None) if *rows > 0 => Ok((*rows, *w, values)),
        _ => Err(shape_error(
            slot,
            shape,
            format!("expected [rows > 0, {width:?}]"),
        )),
    }
}

/// Run step `index` of `program` on `input`, returning the next activation.
pub fn run_step(
    executor: &Executor,
    weights: &WeightStore,
    program: &Program,
    index: usize,
    input: Activation,
) -> Result<Activation> {
    let step = program.steps.get(index).ok_or(InferError::StepOutOfRange {
        index,
        count: program.steps.len(),
    })?;
    let result = compute(executor, weights, step, &input)?;
    let mut next = input;
    next.set(&step.output, result);
    next.retain(&program.live_after[index]);
    Ok(next)
}

/// The tensor step `step` writes: the parent holds the match, one function per op.
fn compute(
    executor: &Executor,
    weights: &WeightStore,
    step: &Step,
    input: &Activation,
) -> Result<Tensor> {
    let slot = |i: usize| step.inputs[i].as_str();
    match &step.op {
        Op::Embed {
            table,
            type_table,
            position_table,
        } => embed(
            weights,
            input,
            slot(0),
            table,
            type_table.as_deref(),
            position_table.as_deref(),
        ),
        Op::Linear { weight, bias } => {
            linear(executor, weights, input, slot(0), weight, bias.as_deref())
        }
        Op::LayerNorm { weight, bias, eps } => {
            norm(weights, input, slot(0), weight, Some(bias), *eps)
        }
        Op::RmsNorm { weight, eps } => norm(weights, input, slot(0), weight, None, *eps),
        Op::Gelu => activation_function(executor, input, slot(0), true),
        Op::Relu => activation_function(executor, input, slot(0), false),
        Op::SiluMul => pairwise(executor, input, slot(0), slot(1), false),
        Op::Add => pairwise(executor, input, slot(0), slot(1), true),
        Op::Rope { head_dim, base } => rope(input, slot(0), *head_dim, *base),
        Op::Attention {
            heads,
            kv_heads,
            head_dim,
            causal,
        } => attention(
            executor,
            input,
            [slot(0), slot(1), slot(2)],
            (*heads, *kv_heads, *head_dim),
            *causal,
        ),
        Op::MeanPool => mean_pool(input, slot(0)),
        Op::L2Normalize => l2_normalize(input, slot(0)),
        Op::Argmax => argmax(input, slot(0)),
        Op::Conv2d {
            weight,
            bias,
            kernel,
            padding,
        } => conv2d(
            executor,
            weights,
            input,
            slot(0),
            (weight, bias),
            (*kernel, *padding),
        ),
        Op::MaxPool2d { size } => max_pool(input, slot(0), *size),
        Op::Flatten => {
            let (_, x) = input.f32(slot(0))?;
            Ok(Tensor::f32(vec![1, x.len()], x.to_vec()))
        }
    }
}

/// LayerNorm (with a bias) or RMSNorm (without).
fn norm(
    weights: &WeightStore,
    input: &Activation,
    slot: &str,
    weight: &str,
    bias: Option<&str>,
    eps: f32,
) -> Result<Tensor> {
    let w = weights.get(weight)?;
    let width = w.shape[0];
    let (rows, _, x) = matrix(input, slot, Some(width))?;
    let values = match bias {
        Some(bias) => {
            let b = weights.f32(bias, &[width])?;
            kernels::layer_norm(x, width, &w.values, b, eps)
        }
        None => kernels::rms_norm(x, width, &w.values, eps),
    };
    Ok(Tensor::f32(vec![rows, width], values))
}

fn argmax(input: &Activation, slot: &str) -> Result<Tensor> {
    let (rows, width, x) = matrix(input, slot, None)?;
    Ok(Tensor::u32(
        vec![rows],
        x.chunks_exact(width).map(kernels::argmax).collect(),
    ))
}

fn embed(
    weights: &WeightStore,
    input: &Activation,
    slot: &str,
    table: &str,
    type_table: Option<&str>,
    position_table: Option<&str>,
) -> Result<Tensor> {
    let (shape, tokens) = input.u32(slot)?;
    if shape.len() != 1 || tokens.is_empty() {
        return Err(shape_error(slot, shape, "expected [tokens > 0]"));
    }
    let table_weight = weights.get(table)?;
    let [vocab, width] = table_weight.shape[..] else {
        return Err(InferError::UnsupportedConfig(format!(
            "{table} is not a matrix"
        )));
    };
    let values = &table_weight.values;
    let type_row = match type_table {
        Some(name) => Some(&weights.get(name)?.values[..width]),
        None => None,
    };
    let positions = match position_table {
        Some(name) => {
            let weight = weights.get(name)?;
            if tokens.len() > weight.shape[0] {
                return Err(InferError::InputTooLong {
                    actual: tokens.len(),
                    limit: weight.shape[0],
                });
            }
            Some(&weight.values)
        }
        None => None,
    };
    let mut out = Vec::with_capacity(tokens.len() * width);
    for (i, &token) in tokens.iter().enumerate() {
        if token as usize >= vocab {
            return Err(InferError::TokenOutOfRange { id: token, vocab });
        }
        let row = &values[token as usize * width..(token as usize + 1) * width];
        for k in 0..width {
            let mut value = row[k];
            if let Some(type_row) = type_row {
                value += type_row[k];
            }
            if let Some(positions) = positions {
                value += positions[i * width + k];
            }
            out.push(value);
        }
    }
    Ok(Tensor::f32(vec![tokens.len(), width], out))
}

fn linear(
    executor: &Executor,
    weights: &WeightStore,
    input: &Activation,
    slot: &str,
    weight: &str,
    bias: Option<&str>,
) -> Result<Tensor> {
    let w = weights.get(weight)?;
    let [columns, inner] = w.shape[..] else {
        return Err(InferError::UnsupportedConfig(format!(
            "{weight} is not a matrix"
        )));
    };
    let (rows, _, x) = matrix(input, slot, Some(inner))?;
    let bias = match bias {
        Some(name) => Some(weights.f32(name, &[columns])?),
        None => None,
    };
    Ok(Tensor::f32(
        vec![rows, columns],
        kernels::linear(executor, x, rows, inner, w.matrix(), columns, bias),
    ))
}

/// GELU (`gelu`) or ReLU elementwise.
fn activation_function(
    executor: &Executor,
    input: &Activation,
    slot: &str,
    gelu: bool,
) -> Result<Tensor> {
    let (shape, x) = input.f32(slot)?;
    let mut values = vec![0.0f32; x.len()];
    executor.for_each_chunk(&mut values, ELEMENTWISE_CHUNK, |chunk, out| {
        let input = &x[chunk * ELEMENTWISE_CHUNK..];
        // Separate loops (not a function pointer) so each inlines and vectorises.
        if gelu {
            for (o, v) in out.iter_mut().zip(input) {
                *o = kernels::gelu(*v);
            }
        } else {
            for (o, v) in out.iter_mut().zip(input) {
                *o = v.max(0.0);
            }
        }
    });
    Ok(Tensor::f32(shape.to_vec(), values))
}

/// `a + b` (`add`) or `silu(a) * b` elementwise over two slots of one shape.
fn pairwise(
    executor: &Executor,
    input: &Activation,
    first: &str,
    second: &str,
    add: bool,
) -> Result<Tensor> {
    let (rows, width, a) = matrix(input, first, None)?;
    let (shape_b, b) = input.f32(second)?;
    if shape_b != [rows, width] {
        return Err(shape_error(
            second,
            shape_b,
            format!("expected [{rows}, {width}]"),
        ));
    }
    let mut values = vec![0.0f32; a.len()];
    executor.for_each_chunk(&mut values, ELEMENTWISE_CHUNK, |chunk, out| {
        let start = chunk * ELEMENTWISE_CHUNK;
        for ((o, x), y) in out.iter_mut().zip(&a[start..]).zip(&b[start..]) {
            *o = if add { x + y } else { kernels::silu(*x) * y };
        }
    });
    Ok(Tensor::f32(vec![rows, width], values))
}

fn rope(input: &Activation, slot: &str, head_dim: usize, base: f32) -> Result<Tensor> {
    let (rows, width, x) = matrix(input, slot, None)?;
    if width % head_dim != 0 {
        return Err(shape_error(
            slot,
            &[rows, width],
            "width is not whole heads",
        ));
    }
    let mut values = x.to_vec();
    kernels::rope(&mut values, width, head_dim, base, 0);
    Ok(Tensor::f32(vec![rows, width], values))
}

fn attention(
    executor: &Executor,
    input: &Activation,
    [query, key, value]: [&str; 3],
    (heads, kv_heads, head_dim): (usize, usize, usize),
    causal: bool,
) -> Result<Tensor> {
    let (rows, _, q) = matrix(input, query, Some(heads * head_dim))?;
    let (key_rows, _, k) = matrix(input, key, Some(kv_heads * head_dim))?;
    let (value_rows, _, v) = matrix(input, value, Some(kv_heads * head_dim))?;
    if key_rows != rows || value_rows != rows {
        return Err(shape_error(
            key,
            &[key_rows],
            format!("expected {rows} rows"),
        ));
    }
    Ok(Tensor::f32(
        vec![rows, heads * head_dim],
        kernels::attention(executor, q, k, v, rows, heads, kv_heads, head_dim, causal),
    ))
}

fn mean_pool(input: &Activation, slot: &str) -> Result<Tensor> {
    let (rows, width, x) = matrix(input, slot, None)?;
    let mut total = vec![0.0f32; width];
    for row in x.chunks_exact(width) {
        for (t, v) in total.iter_mut().zip(row) {
            *t += v;
        }
    }
    Ok(Tensor::f32(
        vec![1, width],
        total.iter().map(|t| t / rows as f32).collect(),
    ))
}

fn l2_normalize(input: &Activation, slot: &str) -> Result<Tensor> {
    let (rows, width, x) = matrix(input, slot, None)?;
    let mut values = Vec::with_capacity(x.len());
    for row in x.chunks_exact(width) {
        // sentence-transformers clamps the norm at 1e-12 to avoid dividing by zero.
        let norm = kernels::sum_squared_deviation(row, 0.0).sqrt().max(1e-12);
        values.extend(row.iter().map(|v| v / norm));
    }
    Ok(Tensor::f32(vec![rows, width], values))
}

fn conv2d(
    executor: &Executor,
    weights: &WeightStore,
    input: &Activation,
    slot: &str,
    (weight, bias): (&str, &str),
    (kernel, padding): (usize, usize),
) -> Result<Tensor> {
    let w = weights.get(weight)?;
    let [out_channels, channels, kh, kw] = w.shape[..] else {
        return Err(InferError::UnsupportedConfig(format!(
            "{weight} is not 4-D"
        )));
    };
    if kh != kernel || kw != kernel {
        return Err(InferError::UnsupportedConfig(format!(
            "{weight} kernel size"
        )));
    }
    let b = weights.f32(bias, &[out_channels])?;
    let (shape, x) = input.f32(slot)?;
    let [c, height, width] = shape[..] else {
        return Err(shape_error(
            slot,
            shape,
            "expected [channels, height, width]",
        ));
    };
    if c != channels || height + 2 * padding < kernel || width + 2 * padding < kernel {
        return Err(shape_error(
            slot,
            shape,
            format!("expected {channels} channels"),
        ));
    }
    let (values, out_h, out_w) = kernels::conv2d(
        executor,
        x,
        channels,
        height,
        width,
        &w.values,
        out_channels,
        kernel,
        padding,
        b,
    );
    Ok(Tensor::f32(vec![out_channels, out_h, out_w], values))
}

fn max_pool(input: &Activation, slot: &str, size: usize) -> Result<Tensor> {
    let (shape, x) = input.f32(slot)?;
    let [c, height, width] = shape[..] else {
        return Err(shape_error(
            slot,
            shape,
            "expected [channels, height, width]",
        ));
    };
    let (out_h, out_w) = (height / size, width / size);
    if out_h == 0 || out_w == 0 {
        return Err(shape_error(slot, shape, "smaller than the pooling window"));
    }
    let mut values = Vec::with_capacity(c * out_h * out_w);
    for channel in 0..c {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut best = f32::NEG_INFINITY;
                for dy in 0..size {
                    for dx in 0..size {
                        let v = x[(channel * height + oy * size + dy) * width + ox * size + dx];
                        best = best.max(v);
                    }
                }
                values.push(best);
            }
        }
    }
    Ok(Tensor::f32(vec![c, out_h, out_w], values))
}
