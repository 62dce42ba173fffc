//! Safetensors weights (the format's own crate parses and bounds-checks the header).

use crate::error::{InferError, Result};
use crate::weights::{StorageType, WeightStore, MODEL_BYTES_MAX};
use safetensors::{Dtype, SafeTensors};

/// Read every tensor of a safetensors file.
pub fn load_safetensors(bytes: &[u8]) -> Result<WeightStore> {
    if bytes.len() as u64 > MODEL_BYTES_MAX {
        return Err(InferError::TooLarge {
            actual: bytes.len() as u64,
            limit: MODEL_BYTES_MAX,
        });
    }
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| InferError::Malformed(format!("safetensors: {e}")))?;
    let mut store = WeightStore::new();
    // The crate's own order is unspecified; the store orders by name.
    for (name, view) in file.tensors() {
        let storage = match view.dtype() {
            Dtype::F32 => StorageType::F32,
            Dtype::F16 => StorageType::F16,
            Dtype::BF16 => StorageType::BF16,
            Dtype::I64 => StorageType::I64,
            other => {
                return Err(InferError::UnsupportedDType {
                    name,
                    dtype: format!("{other:?}"),
                })
            }
        };
        store.insert_raw(&name, storage, view.shape().to_vec(), view.data())?;
    }
    Ok(store)
}

/// Write f32 tensors as a safetensors file (for tests and tools that make small models).
pub fn save_safetensors_f32(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, values)| values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.to_string(), view))
                .map_err(|e| InferError::Malformed(format!("safetensors: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None)
        .map_err(|e| InferError::Malformed(format!("safetensors: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensors_survive_a_safetensors_round_trip() {
        let bytes = save_safetensors_f32(&[
            ("b", vec![2], vec![1.0, -2.0]),
            ("a", vec![1, 1], vec![0.5]),
        ])
        .unwrap();
        let store = load_safetensors(&bytes).unwrap();
        assert_eq!(store.f32("b", &[2]).unwrap(), &[1.0, -2.0]);
        assert_eq!(store.names().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn a_truncated_file_is_an_error() {
        let bytes = save_safetensors_f32(&[("a", vec![4], vec![1.0; 4])]).unwrap();
        assert!(load_safetensors(&bytes[..bytes.len() - 3]).is_err());
        assert!(load_safetensors(&[1, 2, 3]).is_err());
    }
}
