//! Architectures: each turns a configuration into a [`crate::program::Program`], checks the
//! weights it needs, and offers the task-level call (embed a sentence, generate text,
//! classify an image).

pub mod bert;
pub mod llama;
pub mod mlp;

use crate::error::{InferError, Result};
use crate::weights::WeightStore;

/// Check that `name` exists with `shape`.
pub(crate) fn expect_shape(weights: &WeightStore, name: &str, shape: &[usize]) -> Result<()> {
    let weight = weights.get(name)?;
    if weight.shape != shape {
        return Err(InferError::TensorShape {
            name: name.to_string(),
            expected: shape.to_vec(),
            actual: weight.shape.clone(),
        });
    }
    weights.f32(name, shape).map(|_| ())
}

/// A configuration count as usize, refusing zero and values past `max`.
pub(crate) fn count(name: &str, value: u64, max: u64) -> Result<usize> {
    if value == 0 || value > max {
        return Err(InferError::UnsupportedConfig(format!(
            "{name} = {value} is outside 1..={max}"
        )));
    }
    Ok(value as usize)
}
