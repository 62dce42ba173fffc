//! Loaded weights and their commitment (DESIGN §3 "models", §4).
//!
//! Every tensor of a weights file is kept by name, with the dtype and shape it had in the file
//! and its values widened to f32 for the kernels (quantised blocks are expanded exactly once,
//! at load, with plain IEEE multiply and add, so expansion is as reproducible as the rest).
//!
//! The weights root is the Merkle root (surety_types::merkle) over one leaf per tensor, in
//! name order; a leaf is the canonical encoding of [`TensorLeaf`]: name, file dtype, row-major
//! shape, and the hash of the tensor's bytes exactly as stored in the file. A proof for one
//! leaf shows one tensor belongs to a registered model without shipping the others.

use crate::error::{InferError, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;
use surety_types::merkle::MerkleTree;
use surety_types::Hash;

/// Largest weights file accepted: 8 GiB.
pub const MODEL_BYTES_MAX: u64 = 8 << 30;
/// Most tensors one weights file may hold.
pub const TENSORS_MAX: usize = 8192;
/// Most elements one tensor may hold (2^31: 8 GiB as f32).
pub const TENSOR_ELEMENTS_MAX: usize = 1 << 31;

const TENSOR_BYTES_DOMAIN: &str = "surety.infer.tensor_bytes";

/// How a tensor is stored in its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum StorageType {
    /// 32-bit float.
    F32,
    /// 16-bit IEEE float, widened exactly.
    F16,
    /// bfloat16, widened exactly.
    BF16,
    /// 64-bit integer (position ids, kept for the commitment only).
    I64,
    /// GGUF Q4_1: blocks of 32 with an f16 scale and f16 minimum, 4 bits a value.
    Q4_1,
    /// GGUF Q8_0: blocks of 32 with an f16 scale, 8 signed bits a value.
    Q8_0,
}

impl StorageType {
    /// The type's name in safetensors and GGUF files.
    pub fn name(self) -> &'static str {
        match self {
            StorageType::F32 => "F32",
            StorageType::F16 => "F16",
            StorageType::BF16 => "BF16",
            StorageType::I64 => "I64",
            StorageType::Q4_1 => "Q4_1",
            StorageType::Q8_0 => "Q8_0",
        }
    }

    /// Bytes needed for `elements` values, or `None` if the count does not fit the blocks.
    pub fn byte_len(self, elements: usize) -> Option<usize> {
        match self {
            StorageType::F32 => elements.checked_mul(4),
            StorageType::F16 | StorageType::BF16 => elements.checked_mul(2),
            StorageType::I64 => elements.checked_mul(8),
            // Checked: a file's dimensions can claim nearly usize::MAX elements (found by
            // fuzzing, `gguf` target).
            StorageType::Q4_1 => elements
                .is_multiple_of(32)
                .then(|| (elements / 32).checked_mul(20))
                .flatten(),
            StorageType::Q8_0 => elements
                .is_multiple_of(32)
                .then(|| (elements / 32).checked_mul(34))
                .flatten(),
        }
    }
}

/// One leaf of the weights tree.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TensorLeaf {
    /// Tensor name.
    pub name: String,
    /// How it is stored in the file.
    pub storage: StorageType,
    /// Row-major shape.
    pub shape: Vec<u64>,
    /// `H("surety.infer.tensor_bytes", bytes as stored)`.
    pub bytes_hash: Hash,
}

/// One tensor: its commitment leaf and, for number types, its values as f32.
#[derive(Clone, Debug)]
pub struct Weight {
    /// Its leaf in the weights root.
    pub leaf: TensorLeaf,
    /// Row-major shape.
    pub shape: Vec<usize>,
    /// Empty for integer tensors, which no kernel reads.
    pub values: Vec<f32>,
    /// The stored blocks of a quantised matrix whose rows are whole blocks, which matrix
    /// products read in place (a quarter of the memory traffic of the expanded values).
    pub blocks: Option<Vec<u8>>,
}

impl Weight {
    /// This tensor as the weight of a matrix product.
    pub fn matrix(&self) -> crate::kernels::Matrix<'_> {
        use crate::kernels::Matrix;
        match (&self.blocks, self.leaf.storage) {
            (Some(blocks), StorageType::Q4_1) => Matrix::Q4_1(blocks),
            (Some(blocks), StorageType::Q8_0) => Matrix::Q8_0(blocks),
            _ => Matrix::F32(&self.values),
        }
    }
}

/// All tensors of a model, by name.
#[derive(Clone, Debug, Default)]
pub struct WeightStore {
    tensors: BTreeMap<String, Weight>,
}

impl WeightStore {
    /// An empty store.
    pub fn new() -> WeightStore {
        WeightStore::default()
    }

    /// Add a tensor from its stored bytes. `shape` is row-major (slowest dimension first).
    pub fn insert_raw(
        &mut self,
        name: &str,
        storage: StorageType,
        shape: Vec<usize>,
        bytes: &[u8],
    ) -> Result<()> {
        if self.tensors.len() >= TENSORS_MAX {
            return Err(InferError::Malformed(format!(
                "more than {TENSORS_MAX} tensors"
            )));
        }
        if self.tensors.contains_key(name) {
            return Err(InferError::Malformed(format!(
                "tensor `{name}` appears twice"
            )));
        }
        let elements = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= TENSOR_ELEMENTS_MAX)
            .ok_or_else(|| InferError::Malformed(format!("tensor `{name}` is too large")))?;
        let expected = storage.byte_len(elements).ok_or_else(|| {
            InferError::Malformed(format!(
                "tensor `{name}`: {elements} values do not fill whole blocks"
            ))
        })?;
        if bytes.len() != expected {
            return Err(InferError::Malformed(format!(
                "tensor `{name}` has {} bytes, its dtype and shape need {expected}",
                bytes.len()
            )));
        }
        let values = decode_values(storage, bytes);
        let whole_block_rows = shape.len() == 2 && shape[1].is_multiple_of(32);
        let blocks = (matches!(storage, StorageType::Q4_1 | StorageType::Q8_0) && whole_block_rows)
            .then(|| bytes.to_vec());
        let leaf = TensorLeaf {
            name: name.to_string(),
            storage,
            shape: shape.iter().map(|&d| d as u64).collect(),
            bytes_hash: Hash::of(TENSOR_BYTES_DOMAIN, bytes),
        };
        self.tensors.insert(
            name.to_string(),
            Weight {
                leaf,
                shape,
                values,
                blocks,
            },
        );
        Ok(())
    }

    /// Add an f32 tensor (for models built in code, such as test models).
    pub fn insert_f32(&mut self, name: &str, shape: Vec<usize>, values: &[f32]) -> Result<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.insert_raw(name, StorageType::F32, shape, &bytes)
    }

    /// Tensor `name`.
    pub fn get(&self, name: &str) -> Result<&Weight> {
        self.tensors
            .get(name)
            .ok_or_else(|| InferError::MissingTensor(name.to_string()))
    }

    /// Whether tensor `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The f32 values of `name`, checked against `shape`.
    pub fn f32(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let weight = self.get(name)?;
        if weight.shape != shape {
            return Err(InferError::TensorShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                actual: weight.shape.clone(),
            });
        }
        if weight.leaf.storage == StorageType::I64 {
            return Err(InferError::UnsupportedDType {
                name: name.to_string(),
                dtype: weight.leaf.storage.name().to_string(),
            });
        }
        Ok(&weight.values)
    }

    /// Tensor names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Tensors stored.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The weights tree, leaves in name order.
    pub fn tree(&self) -> MerkleTree {
        let leaves: Vec<Vec<u8>> = self
            .tensors
            .values()
            .map(|w| surety_types::encoding::encode(&w.leaf))
            .collect();
        MerkleTree::from_leaves(&leaves)
    }

    /// The Merkle root over every tensor's leaf.
    pub fn weights_root(&self) -> Hash {
        self.tree().root()
    }

    /// Position of `name` among the leaves, for an inclusion proof.
    pub fn leaf_index(&self, name: &str) -> Option<usize> {
        self.tensors.keys().position(|k| k == name)
    }
}

/// IEEE half to single precision; exact, every half value is a single value.
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exponent = ((bits >> 10) & 0x1f) as u32;
    let mantissa = (bits & 0x3ff) as u32;
    let value = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal half: normalise into a single-precision normal.
            let mut e = 127 - 15 + 1;
            let mut m = mantissa;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (mantissa << 13),
        _ => sign | ((exponent + 127 - 15) << 23) | (mantissa << 13),
    };
    f32::from_bits(value)
}

fn decode_values(storage: StorageType, bytes: &[u8]) -> Vec<f32> {
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    match storage {
        StorageType::F32 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        StorageType::F16 => (0..bytes.len() / 2)
            .map(|i| f16_to_f32(u16_at(2 * i)))
            .collect(),
        StorageType::BF16 => (0..bytes.len() / 2)
            .map(|i| f32::from_bits((u16_at(2 * i) as u32) << 16))
            .collect(),
        StorageType::I64 => Vec::new(),
        StorageType::Q4_1 => {
            let mut values = Vec::with_capacity(bytes.len() / 20 * 32);
            for block in bytes.chunks_exact(20) {
                let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                let minimum = f16_to_f32(u16::from_le_bytes([block[2], block[3]]));
                let quants = &block[4..20];
                // Low nibbles are elements 0..16, high nibbles 16..32 (the GGML layout).
                for q in quants {
                    values.push((q & 0x0f) as f32 * scale + minimum);
                }
                for q in quants {
                    values.push((q >> 4) as f32 * scale + minimum);
                }
            }
            values
        }
        StorageType::Q8_0 => {
            let mut values = Vec::with_capacity(bytes.len() / 34 * 32);
            for block in bytes.chunks_exact(34) {
                let scale = f16_to_f32(u16::from_le_bytes([block[0], block[1]]));
                for &q in &block[2..34] {
                    values.push(q as i8 as f32 * scale);
                }
            }
            values
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values_widen_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert!(f16_to_f32(0x7c00).is_infinite());
    }

    #[test]
    fn a_q4_1_block_expands_to_scale_times_nibble_plus_minimum() {
        let mut block = vec![0u8; 20];
        block[0..2].copy_from_slice(&0x3800u16.to_le_bytes()); // scale 0.5
        block[2..4].copy_from_slice(&0xbc00u16.to_le_bytes()); // minimum -1
        block[4] = 0x3f; // element 0 = 15, element 16 = 3
        let mut store = WeightStore::new();
        store
            .insert_raw("w", StorageType::Q4_1, vec![32], &block)
            .unwrap();
        let values = store.f32("w", &[32]).unwrap();
        assert_eq!(values[0], 6.5);
        assert_eq!(values[16], 0.5);
        assert_eq!(values[1], -1.0);
    }

    #[test]
    fn a_tensor_whose_bytes_do_not_match_its_shape_is_rejected() {
        let mut store = WeightStore::new();
        assert!(store
            .insert_raw("w", StorageType::F32, vec![3], &[0u8; 8])
            .is_err());
        assert!(store
            .insert_raw("q", StorageType::Q8_0, vec![31], &[0u8; 34])
            .is_err());
    }

    #[test]
    fn the_weights_root_changes_with_one_bit_of_one_tensor() {
        let mut a = WeightStore::new();
        a.insert_f32("x", vec![2], &[1.0, 2.0]).unwrap();
        a.insert_f32("y", vec![1], &[3.0]).unwrap();
        let mut b = WeightStore::new();
        b.insert_f32("x", vec![2], &[1.0, f32::from_bits(2.0f32.to_bits() ^ 1)])
            .unwrap();
        b.insert_f32("y", vec![1], &[3.0]).unwrap();
        assert_ne!(a.weights_root(), b.weights_root());
    }
}
