//! GGUF weights and metadata (version 2 and 3), read with explicit bounds.
//!
//! Layout: magic `GGUF`, version, tensor count, metadata count, metadata key/values, tensor
//! infos (name, dims fastest-first, type, offset), padding to the alignment, then tensor data.
//! Every count and length is checked against a named limit before anything is allocated.

use crate::error::{InferError, Result};
use crate::weights::{StorageType, WeightStore, MODEL_BYTES_MAX, TENSORS_MAX};
use std::collections::BTreeMap;

/// Most metadata entries.
pub const METADATA_ENTRIES_MAX: u64 = 1 << 16;
/// Longest string (a chat template is a few kilobytes).
pub const STRING_BYTES_MAX: u64 = 1 << 20;
/// Longest metadata array (a vocabulary is ~10^5 tokens).
pub const ARRAY_ITEMS_MAX: u64 = 1 << 22;
/// Most dimensions of one tensor.
pub const TENSOR_DIMS_MAX: u32 = 4;

/// A metadata value. Arrays of arrays are refused: no model used here has them.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// An integer of any GGUF width.
    Int(i128),
    /// A float of either GGUF width.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// An array of scalars.
    Array(Vec<MetaValue>),
}

/// A parsed GGUF file: metadata and weights.
pub struct GgufFile {
    /// Metadata by key, in key order.
    pub metadata: BTreeMap<String, MetaValue>,
    /// The tensors.
    pub weights: WeightStore,
}

impl GgufFile {
    /// Metadata `key` as an unsigned integer.
    pub fn u64(&self, key: &str) -> Result<u64> {
        match self.metadata.get(key) {
            Some(MetaValue::Int(v)) => {
                u64::try_from(*v).map_err(|_| InferError::MissingMetadata(key.to_string()))
            }
            _ => Err(InferError::MissingMetadata(key.to_string())),
        }
    }

    /// Metadata `key` as a float.
    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.metadata.get(key) {
            Some(MetaValue::Float(v)) => Ok(*v as f32),
            _ => Err(InferError::MissingMetadata(key.to_string())),
        }
    }

    /// Metadata `key` as a string.
    pub fn string(&self, key: &str) -> Result<&str> {
        match self.metadata.get(key) {
            Some(MetaValue::String(v)) => Ok(v),
            _ => Err(InferError::MissingMetadata(key.to_string())),
        }
    }

    /// Metadata `key` as an array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>> {
        match self.metadata.get(key) {
            Some(MetaValue::Array(items)) => items
                .iter()
                .map(|item| match item {
                    MetaValue::String(s) => Ok(s.as_str()),
                    _ => Err(InferError::MissingMetadata(key.to_string())),
                })
                .collect(),
            _ => Err(InferError::MissingMetadata(key.to_string())),
        }
    }

    /// Metadata `key` as an array of integers.
    pub fn ints(&self, key: &str) -> Result<Vec<i128>> {
        match self.metadata.get(key) {
            Some(MetaValue::Array(items)) => items
                .iter()
                .map(|item| match item {
                    MetaValue::Int(v) => Ok(*v),
                    _ => Err(InferError::MissingMetadata(key.to_string())),
                })
                .collect(),
            _ => Err(InferError::MissingMetadata(key.to_string())),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .position
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| InferError::Malformed("GGUF: unexpected end of file".into()))?;
        let slice = &self.bytes[self.position..end];
        self.position = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String> {
        let len = self.u64()?;
        if len > STRING_BYTES_MAX {
            return Err(InferError::Malformed(format!(
                "GGUF: string of {len} bytes"
            )));
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| InferError::Malformed("GGUF: string is not UTF-8".into()))
    }

    fn value(&mut self, kind: u32, depth: u32) -> Result<MetaValue> {
        Ok(match kind {
            0 => MetaValue::Int(self.array::<1>()?[0] as i128),
            1 => MetaValue::Int(self.array::<1>()?[0] as i8 as i128),
            2 => MetaValue::Int(u16::from_le_bytes(self.array()?) as i128),
            3 => MetaValue::Int(i16::from_le_bytes(self.array()?) as i128),
            4 => MetaValue::Int(self.u32()? as i128),
            5 => MetaValue::Int(i32::from_le_bytes(self.array()?) as i128),
            6 => MetaValue::Float(f32::from_le_bytes(self.array()?) as f64),
            7 => MetaValue::Bool(self.array::<1>()?[0] != 0),
            8 => MetaValue::String(self.string()?),
            9 => {
                if depth > 0 {
                    return Err(InferError::Malformed("GGUF: nested arrays".into()));
                }
                let item_kind = self.u32()?;
                let count = self.u64()?;
                if count > ARRAY_ITEMS_MAX {
                    return Err(InferError::Malformed(format!(
                        "GGUF: array of {count} items"
                    )));
                }
                // Each item takes at least one byte, so a count past the end is caught here
                // before the vector is sized by it.
                if count as usize > self.bytes.len() - self.position {
                    return Err(InferError::Malformed(
                        "GGUF: array longer than the file".into(),
                    ));
                }
                let mut items = Vec::with_capacity(count as usize);
                for _ in 0..count {
                    items.push(self.value(item_kind, depth + 1)?);
                }
                MetaValue::Array(items)
            }
            10 => MetaValue::Int(self.u64()? as i128),
            11 => MetaValue::Int(i64::from_le_bytes(self.array()?) as i128),
            12 => MetaValue::Float(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(InferError::Malformed(format!(
                    "GGUF: metadata type {other}"
                )))
            }
        })
    }
}

fn storage_type(code: u32, name: &str) -> Result<StorageType> {
    match code {
        0 => Ok(StorageType::F32),
        1 => Ok(StorageType::F16),
        3 => Ok(StorageType::Q4_1),
        8 => Ok(StorageType::Q8_0),
        30 => Ok(StorageType::BF16),
        other => Err(InferError::UnsupportedDType {
            name: name.to_string(),
            dtype: format!("GGML type {other}"),
        }),
    }
}

/// Parse a GGUF file and expand its tensors.
pub fn load_gguf(bytes: &[u8]) -> Result<GgufFile> {
    if bytes.len() as u64 > MODEL_BYTES_MAX {
        return Err(InferError::TooLarge {
            actual: bytes.len() as u64,
            limit: MODEL_BYTES_MAX,
        });
    }
    let mut reader = Reader { bytes, position: 0 };
    if reader.take(4)? != b"GGUF" {
        return Err(InferError::Malformed("not a GGUF file".into()));
    }
    let version = reader.u32()?;
    if !(2..=3).contains(&version) {
        return Err(InferError::Malformed(format!(
            "GGUF version {version} is not supported"
        )));
    }
    let tensor_count = reader.u64()?;
    let metadata_count = reader.u64()?;
    if tensor_count > TENSORS_MAX as u64 || metadata_count > METADATA_ENTRIES_MAX {
        return Err(InferError::Malformed(
            "GGUF: too many tensors or metadata entries".into(),
        ));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..metadata_count {
        let key = reader.string()?;
        let kind = reader.u32()?;
        let value = reader.value(kind, 0)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(InferError::Malformed(format!(
                "GGUF: metadata `{key}` appears twice"
            )));
        }
    }
    let alignment = match metadata.get("general.alignment") {
        None => 32,
        Some(MetaValue::Int(a)) if *a > 0 && *a <= 4096 && (*a as u64).is_power_of_two() => {
            *a as usize
        }
        Some(_) => return Err(InferError::Malformed("GGUF: bad general.alignment".into())),
    };
    let mut infos = Vec::with_capacity(tensor_count as usize);
    for _ in 0..tensor_count {
        let name = reader.string()?;
        let rank = reader.u32()?;
        if rank == 0 || rank > TENSOR_DIMS_MAX {
            return Err(InferError::Malformed(format!(
                "GGUF: tensor `{name}` has rank {rank}"
            )));
        }
        let mut dims = Vec::with_capacity(rank as usize);
        for _ in 0..rank {
            let dim = reader.u64()?;
            let dim = usize::try_from(dim)
                .map_err(|_| InferError::Malformed(format!("GGUF: tensor `{name}` dimension")))?;
            dims.push(dim);
        }
        let storage = storage_type(reader.u32()?, &name)?;
        let offset = reader.u64()?;
        // GGUF lists dimensions fastest first; the store is row-major, slowest first.
        dims.reverse();
        infos.push((name, dims, storage, offset));
    }
    let data_start = reader.position.div_ceil(alignment) * alignment;
    let mut weights = WeightStore::new();
    for (name, shape, storage, offset) in infos {
        let elements = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| InferError::Malformed(format!("GGUF: tensor `{name}` is too large")))?;
        let length = storage.byte_len(elements).ok_or_else(|| {
            InferError::Malformed(format!("GGUF: tensor `{name}` does not fill whole blocks"))
        })?;
        let start = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(data_start))
            .ok_or_else(|| InferError::Malformed(format!("GGUF: tensor `{name}` offset")))?;
        let end = start
            .checked_add(length)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                InferError::Malformed(format!("GGUF: tensor `{name}` runs past the end"))
            })?;
        weights.insert_raw(&name, storage, shape, &bytes[start..end])?;
    }
    Ok(GgufFile { metadata, weights })
}

/// Write a GGUF file (for tests that make small models): metadata, then tensors as
/// `(name, row-major shape, storage, stored bytes)`.
pub fn write_gguf(
    metadata: &[(&str, MetaValue)],
    tensors: &[(&str, Vec<usize>, StorageType, Vec<u8>)],
) -> Vec<u8> {
    fn put_string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn put_value(out: &mut Vec<u8>, value: &MetaValue, with_kind: bool) {
        let kind: u32 = match value {
            MetaValue::Int(_) => 11,
            MetaValue::Float(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::String(_) => 8,
            MetaValue::Array(_) => 9,
        };
        if with_kind {
            out.extend_from_slice(&kind.to_le_bytes());
        }
        match value {
            MetaValue::Int(v) => out.extend_from_slice(&(*v as i64).to_le_bytes()),
            MetaValue::Float(v) => out.extend_from_slice(&(*v as f32).to_le_bytes()),
            MetaValue::Bool(v) => out.push(*v as u8),
            MetaValue::String(s) => put_string(out, s),
            MetaValue::Array(items) => {
                let item_kind: u32 = match items.first() {
                    Some(MetaValue::Int(_)) => 11,
                    Some(MetaValue::Float(_)) => 6,
                    Some(MetaValue::Bool(_)) => 7,
                    _ => 8,
                };
                out.extend_from_slice(&item_kind.to_le_bytes());
                out.extend_from_slice(&(items.len() as u64).to_le_bytes());
                for item in items {
                    put_value(out, item, false);
                }
            }
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (key, value) in metadata {
        put_string(&mut out, key);
        put_value(&mut out, value, true);
    }
    let mut offset = 0u64;
    for (name, shape, storage, data) in tensors {
        put_string(&mut out, name);
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for dim in shape.iter().rev() {
            out.extend_from_slice(&(*dim as u64).to_le_bytes());
        }
        let code: u32 = match storage {
            StorageType::F32 => 0,
            StorageType::F16 => 1,
            StorageType::Q4_1 => 3,
            StorageType::Q8_0 => 8,
            StorageType::BF16 => 30,
            StorageType::I64 => 27,
        };
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset += (data.len() as u64).div_ceil(32) * 32;
    }
    out.resize(out.len().div_ceil(32) * 32, 0);
    for (_, _, _, data) in tensors {
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(32) * 32, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut q8 = vec![0u8; 34];
        q8[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        q8[2] = 0xfe; // -2
        write_gguf(
            &[
                ("general.architecture", MetaValue::String("llama".into())),
                ("llama.block_count", MetaValue::Int(2)),
                (
                    "tokens",
                    MetaValue::Array(vec![
                        MetaValue::String("a".into()),
                        MetaValue::String("b".into()),
                    ]),
                ),
            ],
            &[
                (
                    "w",
                    vec![2, 3],
                    StorageType::F32,
                    [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                ),
                ("q", vec![1, 32], StorageType::Q8_0, q8),
            ],
        )
    }

    #[test]
    fn a_written_file_reads_back_with_its_metadata_and_tensors() {
        let file = load_gguf(&sample()).unwrap();
        assert_eq!(file.string("general.architecture").unwrap(), "llama");
        assert_eq!(file.u64("llama.block_count").unwrap(), 2);
        assert_eq!(file.strings("tokens").unwrap(), vec!["a", "b"]);
        assert_eq!(file.weights.f32("w", &[2, 3]).unwrap()[5], 6.0);
        assert_eq!(file.weights.f32("q", &[1, 32]).unwrap()[0], -2.0);
    }

    #[test]
    fn every_truncation_of_a_file_is_an_error_not_a_panic() {
        let bytes = sample();
        for cut in 0..bytes.len() - 1 {
            // Cuts inside trailing padding still hold every tensor; all others must fail.
            if let Ok(file) = load_gguf(&bytes[..cut]) {
                assert_eq!(file.weights.len(), 2);
            }
        }
    }

    proptest::proptest! {
        /// Random corruption of a valid file is an error or a model, never a panic.
        #[test]
        fn corrupted_bytes_never_panic(edits in proptest::collection::vec((0usize..4096, 0u8..=255), 1..8)) {
            let mut bytes = sample();
            for (position, value) in edits {
                let index = position % bytes.len();
                bytes[index] = value;
            }
            let _ = load_gguf(&bytes);
        }
    }

    /// Found by fuzzing (`fuzz/`, target `gguf`): 2^63 elements of Q8_0 fit a usize, their
    /// byte length does not; computing it overflowed instead of refusing the tensor.
    #[test]
    fn a_quantised_tensor_too_large_to_measure_is_refused() {
        for storage in [StorageType::Q8_0, StorageType::Q4_1] {
            let bytes = write_gguf(&[], &[("q", vec![1 << 58, 32], storage, vec![])]);
            assert!(matches!(load_gguf(&bytes), Err(InferError::Malformed(_))));
        }
    }

    #[test]
    fn a_hostile_array_length_is_refused() {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.push(b'k');
        bytes.extend_from_slice(&9u32.to_le_bytes());
        bytes.extend_from_slice(&4u32.to_le_bytes());
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(load_gguf(&bytes).is_err());
    }
}
