//! Activations: the named tensors that flow between steps, and their canonical hash.
//!
//! The state between two steps is an [`Activation`], an ordered list of named slots. It holds
//! everything later steps need (for example the residual stream beside the attention output),
//! so that one step can be recomputed from its input alone (DESIGN §4). Its hash covers every
//! slot's name, dtype, shape and little-endian bytes, in slot order.

use crate::error::{InferError, Result};
use borsh::{BorshDeserialize, BorshSerialize};
use surety_types::Hash;

/// Largest activation accepted from outside, in bytes of its encoding: a 4096-row by
/// 49152-wide f32 logits block is 805 MB, far beyond any model served here, so 1 GiB bounds
/// every legitimate input while refusing a hostile length prefix.
pub const ACTIVATION_BYTES_MAX: usize = 1 << 30;
/// Most slots one activation may hold: a training state carries every parameter, its
/// velocity and gradient beside the layer activations (the MNIST CNN's peaks at 25).
pub const ACTIVATION_SLOTS_MAX: usize = 64;
/// Most dimensions one tensor may have.
pub const TENSOR_RANK_MAX: usize = 4;

const ACTIVATION_DOMAIN: &str = "surety.infer.activation";
/// Bytes converted to little-endian at a time while hashing.
const HASH_BUFFER_BYTES: usize = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
/// Element type of a tensor.
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 32-bit unsigned integer (tokens, labels, indices).
    U32,
}

/// The numbers of one tensor, row-major.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub enum Data {
    /// Floats.
    F32(Vec<f32>),
    /// Unsigned integers.
    U32(Vec<u32>),
}

impl Data {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::F32(_) => DType::F32,
            Data::U32(_) => DType::U32,
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        match self {
            Data::F32(values) => values.len(),
            Data::U32(values) => values.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Little-endian bytes; f32 by bit pattern, so -0.0 and NaN payloads are kept apart.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Data::F32(values) => values
                .iter()
                .flat_map(|v| v.to_bits().to_le_bytes())
                .collect(),
            Data::U32(values) => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// A tensor with a shape. Invariant: the product of `shape` equals `data.len()`.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Tensor {
    /// Row-major dimensions.
    pub shape: Vec<usize>,
    /// The elements.
    pub data: Data,
}

impl Tensor {
    /// An f32 tensor; panics if `shape` and `values` disagree (a bug, never input).
    pub fn f32(shape: Vec<usize>, values: Vec<f32>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "shape and data disagree"
        );
        Tensor {
            shape,
            data: Data::F32(values),
        }
    }

    /// A u32 tensor; panics if `shape` and `values` disagree (a bug, never input).
    pub fn u32(shape: Vec<usize>, values: Vec<u32>) -> Tensor {
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "shape and data disagree"
        );
        Tensor {
            shape,
            data: Data::U32(values),
        }
    }

    fn check(&self, slot: &str) -> Result<()> {
        if self.shape.len() > TENSOR_RANK_MAX {
            return Err(InferError::MalformedActivation(format!(
                "slot `{slot}` has rank {}, the limit is {TENSOR_RANK_MAX}",
                self.shape.len()
            )));
        }
        let count = self
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if count != Some(self.data.len()) {
            return Err(InferError::MalformedActivation(format!(
                "slot `{slot}` has shape {:?} but {} values",
                self.shape,
                self.data.len()
            )));
        }
        Ok(())
    }
}

/// The state between two steps: named tensors in a fixed order.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Activation {
    /// Named tensors, in a fixed order.
    pub slots: Vec<(String, Tensor)>,
}

impl Activation {
    /// An activation with no slots.
    pub fn new() -> Activation {
        Activation { slots: Vec::new() }
    }

    /// Slot `name`.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.slots
            .iter()
            .find(|(slot, _)| slot == name)
            .map(|(_, tensor)| tensor)
            .ok_or_else(|| InferError::MissingSlot(name.to_string()))
    }

    /// Slot `name`, to change in place.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Tensor> {
        self.slots
            .iter_mut()
            .find(|(slot, _)| slot == name)
            .map(|(_, tensor)| tensor)
            .ok_or_else(|| InferError::MissingSlot(name.to_string()))
    }

    /// The f32 values and shape of slot `name`.
    pub fn f32(&self, name: &str) -> Result<(&[usize], &[f32])> {
        let tensor = self.get(name)?;
        match &tensor.data {
            Data::F32(values) => Ok((&tensor.shape, values)),
            other => Err(InferError::SlotDType {
                slot: name.to_string(),
                expected: DType::F32,
                actual: other.dtype(),
            }),
        }
    }

    /// The u32 values and shape of slot `name`.
    pub fn u32(&self, name: &str) -> Result<(&[usize], &[u32])> {
        let tensor = self.get(name)?;
        match &tensor.data {
            Data::U32(values) => Ok((&tensor.shape, values)),
            other => Err(InferError::SlotDType {
                slot: name.to_string(),
                expected: DType::U32,
                actual: other.dtype(),
            }),
        }
    }

    /// Set slot `name`, replacing it in place if present, else appending it.
    pub fn set(&mut self, name: &str, tensor: Tensor) {
        if let Some(entry) = self.slots.iter_mut().find(|(slot, _)| slot == name) {
            entry.1 = tensor;
        } else {
            self.slots.push((name.to_string(), tensor));
        }
    }

    /// Keep only the slots named in `live`, in their current order.
    pub fn retain(&mut self, live: &[String]) {
        self.slots
            .retain(|(slot, _)| live.iter().any(|l| l == slot));
    }

    #[cfg(test)]
    fn hash_header(&self) -> Vec<u8> {
        hash_header(
            self.slots
                .iter()
                .map(|(name, tensor)| (name.as_str(), tensor)),
        )
    }

    /// The canonical hash committed in a trace:
    /// `Hash::of_parts("surety.infer.activation", [header, slot bytes…])`, where the header
    /// lists the slot count and each slot's name, dtype and shape, and each slot's bytes are
    /// its values little-endian. Computed by streaming the values through blake3 in the exact
    /// framing of `Hash::of_parts`, so no copy of the activation is made.
    pub fn hash(&self) -> Hash {
        hash_slots(
            self.slots
                .iter()
                .map(|(name, tensor)| (name.as_str(), tensor)),
            false,
        )
    }

    /// Canonical bytes, for sending an activation to a referee.
    pub fn to_bytes(&self) -> Vec<u8> {
        surety_types::encoding::encode(self)
    }

    /// Decode an activation from untrusted bytes, with size, rank and shape checks.
    pub fn from_bytes(bytes: &[u8]) -> Result<Activation> {
        let activation: Activation =
            surety_types::encoding::decode_bounded(bytes, ACTIVATION_BYTES_MAX)
                .map_err(|e| InferError::MalformedActivation(e.to_string()))?;
        if activation.slots.len() > ACTIVATION_SLOTS_MAX {
            return Err(InferError::MalformedActivation(format!(
                "{} slots, the limit is {ACTIVATION_SLOTS_MAX}",
                activation.slots.len()
            )));
        }
        for (name, tensor) in &activation.slots {
            tensor.check(name)?;
        }
        Ok(activation)
    }
}

fn hash_header<'a>(slots: impl ExactSizeIterator<Item = (&'a str, &'a Tensor)>) -> Vec<u8> {
    let mut header = Vec::new();
    header.extend_from_slice(&(slots.len() as u64).to_le_bytes());
    for (name, tensor) in slots {
        header.extend_from_slice(&(name.len() as u64).to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        header.push(match tensor.data.dtype() {
            DType::F32 => 0,
            DType::U32 => 1,
        });
        header.extend_from_slice(&(tensor.shape.len() as u64).to_le_bytes());
        for dim in &tensor.shape {
            header.extend_from_slice(&(*dim as u64).to_le_bytes());
        }
    }
    header
}

fn hash_slots<'a>(
    slots: impl ExactSizeIterator<Item = (&'a str, &'a Tensor)> + Clone,
    threads: bool,
) -> Hash {
    let header = hash_header(slots.clone());
    let mut hasher = blake3::Hasher::new();
    hasher.update(&(ACTIVATION_DOMAIN.len() as u64).to_le_bytes());
    hasher.update(ACTIVATION_DOMAIN.as_bytes());
    hasher.update(&(header.len() as u64).to_le_bytes());
    hasher.update(&header);
    // Filled only for values that are not hashed in place (u32 slots, big-endian machines).
    let mut buffer = Vec::new();
    for (_, tensor) in slots {
        hasher.update(&((tensor.data.len() * 4) as u64).to_le_bytes());
        match &tensor.data {
            Data::F32(values) => hash_f32(&mut hasher, &mut buffer, values, threads),
            Data::U32(values) => stream_words(&mut hasher, &mut buffer, values.iter().copied()),
        }
    }
    Hash(*hasher.finalize().as_bytes())
}

/// Bytes from which a slot is worth hashing on several threads (blake3's advice for
/// `update_rayon`).
const THREADED_HASH_BYTES_MIN: usize = 128 << 10;

/// Feed f32 values' little-endian bit patterns into `hasher`: on a little-endian machine the
/// values' memory is those bytes, handed to blake3 whole (its SIMD hashes many chunks at once,
/// and with `threads` its subtrees go to the current rayon pool); elsewhere they are converted
/// a buffer at a time.
fn hash_f32(hasher: &mut blake3::Hasher, buffer: &mut Vec<u8>, values: &[f32], threads: bool) {
    #[cfg(target_endian = "little")]
    {
        let _ = buffer;
        // SAFETY: f32 has no padding and every byte of it is initialised; u8 needs no
        // alignment; the length is the slice's size in bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        };
        if threads && bytes.len() >= THREADED_HASH_BYTES_MIN {
            hasher.update_rayon(bytes);
        } else {
            hasher.update(bytes);
        }
    }
    #[cfg(not(target_endian = "little"))]
    {
        let _ = threads;
        stream_words(hasher, buffer, values.iter().map(|v| v.to_bits()));
    }
}

/// The hash of one slot: [`Activation::hash`] of an activation holding it alone.
pub fn slot_hash(name: &str, tensor: &Tensor) -> Hash {
    hash_slots(std::iter::once((name, tensor)), false)
}

/// [`slot_hash`] computed on the threads of the rayon pool it is called in (blake3's
/// `update_rayon` for a large slot): the same hash, since blake3's tree, not the split,
/// fixes it. Outside a pool it would use rayon's global one, so callers run it inside an
/// [`crate::Executor`]'s.
pub fn slot_hash_on_threads(name: &str, tensor: &Tensor) -> Hash {
    hash_slots(std::iter::once((name, tensor)), true)
}

/// Feed `words` little-endian into `hasher`, a buffer (of at most [`HASH_BUFFER_BYTES`],
/// allocated on first use) at a time.
fn stream_words(
    hasher: &mut blake3::Hasher,
    buffer: &mut Vec<u8>,
    words: impl ExactSizeIterator<Item = u32>,
) {
    let bytes = (4 * words.len()).clamp(4, HASH_BUFFER_BYTES);
    if buffer.len() < bytes {
        buffer.resize(bytes, 0);
    }
    let buffer = &mut buffer[..bytes];
    let mut filled = 0;
    for word in words {
        buffer[filled..filled + 4].copy_from_slice(&word.to_le_bytes());
        filled += 4;
        if filled == buffer.len() {
            hasher.update(buffer);
            filled = 0;
        }
    }
    hasher.update(&buffer[..filled]);
}

impl Default for Activation {
    fn default() -> Self {
        Activation::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_activation_round_trips_through_its_bytes() {
        let mut activation = Activation::new();
        activation.set("tokens", Tensor::u32(vec![3], vec![1, 2, 3]));
        activation.set("hidden", Tensor::f32(vec![1, 2], vec![0.5, -0.0]));
        let decoded = Activation::from_bytes(&activation.to_bytes()).expect("decodes");
        assert_eq!(decoded, activation);
        assert_eq!(decoded.hash(), activation.hash());
    }

    proptest::proptest! {
        /// Arbitrary bytes handed to a referee decode to an error or a checked activation.
        #[test]
        fn arbitrary_bytes_never_panic_the_activation_decoder(bytes in proptest::collection::vec(0u8..=255, 0..256)) {
            if let Ok(activation) = Activation::from_bytes(&bytes) {
                for (name, tensor) in &activation.slots {
                    proptest::prop_assert!(tensor.check(name).is_ok());
                }
            }
        }
    }

    #[test]
    fn a_shape_that_disagrees_with_the_data_is_rejected() {
        let activation = Activation {
            slots: vec![(
                "x".into(),
                Tensor {
                    shape: vec![2, 2],
                    data: Data::F32(vec![1.0]),
                },
            )],
        };
        assert!(Activation::from_bytes(&activation.to_bytes()).is_err());
    }

    #[test]
    fn the_streamed_hash_equals_hash_of_parts_over_the_whole_bytes() {
        let mut activation = Activation::new();
        activation.set("tokens", Tensor::u32(vec![3], vec![1, 2, 3]));
        let big: Vec<f32> = (0..40_000).map(|i| i as f32 * 0.25 - 7.0).collect();
        activation.set("hidden", Tensor::f32(vec![200, 200], big));
        let bodies: Vec<Vec<u8>> = activation
            .slots
            .iter()
            .map(|(_, t)| t.data.to_le_bytes())
            .collect();
        let header = activation.hash_header();
        let mut parts: Vec<&[u8]> = vec![&header];
        parts.extend(bodies.iter().map(Vec::as_slice));
        assert_eq!(activation.hash(), Hash::of_parts(ACTIVATION_DOMAIN, &parts));
    }

    #[test]
    fn a_slot_hashed_on_threads_has_the_hash_of_one_thread() {
        let big: Vec<f32> = (0..300_001).map(|i| i as f32 * 0.37 - 5.0).collect();
        let tensor = Tensor::f32(vec![300_001], big);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let threaded = pool.install(|| slot_hash_on_threads("big", &tensor));
        assert_eq!(threaded, slot_hash("big", &tensor));
    }

    #[test]
    fn negative_zero_and_zero_hash_differently() {
        let mut a = Activation::new();
        a.set("x", Tensor::f32(vec![1], vec![0.0]));
        let mut b = Activation::new();
        b.set("x", Tensor::f32(vec![1], vec![-0.0]));
        assert_ne!(a.hash(), b.hash());
    }
}
