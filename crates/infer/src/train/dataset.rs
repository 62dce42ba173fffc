//! Labelled image data sets (MNIST's IDX files), their commitment, and shards.
//!
//! A [`Dataset`] is parsed from the bytes of an IDX image file and an IDX label file (no IO
//! here: the caller reads them). Its commitment, [`Dataset::root`], is the Merkle root over
//! one leaf per sample, in file order: the sample's label byte followed by its pixel bytes.
//! A minibatch names its samples by index, so a referee holding the root checks the input of
//! a training step with [`Dataset::proof`].
//!
//! Shards for federated learning are drawn from a seed ([`partition_iid`],
//! [`partition_dirichlet`]); each shard lists sample indices in ascending order.

use super::random::Random;
use crate::error::{InferError, Result};
use surety_types::merkle::{MerkleProof, MerkleTree};
use surety_types::Hash;

/// Most samples a dataset may hold (MNIST has 70,000).
pub const SAMPLES_MAX: usize = 1 << 22;
/// Most pixels one image may have.
pub const PIXELS_MAX: usize = 1 << 16;
/// Most shards a partition may make.
pub const SHARDS_MAX: usize = 1 << 16;

const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// Images of `rows × columns` bytes with one label each.
#[derive(Clone, Debug)]
pub struct Dataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    columns: usize,
    tree: MerkleTree,
}

fn big_endian(bytes: &[u8], word: usize) -> Result<usize> {
    let start = word * 4;
    let slice = bytes
        .get(start..start + 4)
        .ok_or_else(|| InferError::Malformed("IDX header is truncated".into()))?;
    Ok(u32::from_be_bytes([slice[0], slice[1], slice[2], slice[3]]) as usize)
}

impl Dataset {
    /// Parse an IDX3 image file and an IDX1 label file of the same length.
    pub fn from_idx(images: &[u8], labels: &[u8]) -> Result<Dataset> {
        if big_endian(images, 0)? != IDX_IMAGES_MAGIC as usize
            || big_endian(labels, 0)? != IDX_LABELS_MAGIC as usize
        {
            return Err(InferError::Malformed(
                "not IDX image and label files".into(),
            ));
        }
        let (count, rows, columns) = (
            big_endian(images, 1)?,
            big_endian(images, 2)?,
            big_endian(images, 3)?,
        );
        if count == 0 || count > SAMPLES_MAX || big_endian(labels, 1)? != count {
            return Err(InferError::Malformed(format!(
                "IDX files hold {count} images and {} labels",
                big_endian(labels, 1)?
            )));
        }
        if rows == 0 || columns == 0 || rows * columns > PIXELS_MAX {
            return Err(InferError::Malformed(format!(
                "images of {rows} × {columns}"
            )));
        }
        let pixels = &images[16.min(images.len())..];
        let labels = &labels[8.min(labels.len())..];
        if pixels.len() != count * rows * columns || labels.len() != count {
            return Err(InferError::Malformed(
                "IDX payload has the wrong length".into(),
            ));
        }
        Dataset::new(pixels.to_vec(), labels.to_vec(), rows, columns)
    }

    /// A dataset from raw pixels (`count × rows × columns` bytes) and labels.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, columns: usize) -> Result<Dataset> {
        let pixels = rows * columns;
        if labels.is_empty() || pixels == 0 || images.len() != labels.len() * pixels {
            return Err(InferError::Malformed("images and labels disagree".into()));
        }
        let leaves: Vec<Vec<u8>> = labels
            .iter()
            .zip(images.chunks_exact(pixels))
            .map(|(label, image)| sample_leaf(*label, image))
            .collect();
        let tree = MerkleTree::from_leaves(&leaves);
        Ok(Dataset {
            images,
            labels,
            rows,
            columns,
            tree,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the dataset holds no samples (never, once built).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels(&self) -> usize {
        self.rows * self.columns
    }

    /// Image height and width.
    pub fn image_size(&self) -> (usize, usize) {
        (self.rows, self.columns)
    }

    /// All labels, in sample order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels and label of sample `index`.
    pub fn sample(&self, index: usize) -> Result<(&[u8], u8)> {
        let label = *self.labels.get(index).ok_or(InferError::SampleOutOfRange {
            index,
            count: self.len(),
        })?;
        let pixels = self.pixels();
        Ok((&self.images[index * pixels..(index + 1) * pixels], label))
    }

    /// The commitment: Merkle root over the samples' leaves.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// Inclusion proof of sample `index`; verify with
    /// `proof.verify(&root, &sample_leaf(label, pixels))`.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        self.tree.proof(index)
    }
}

/// The leaf bytes of one sample: its label, then its pixels.
pub fn sample_leaf(label: u8, pixels: &[u8]) -> Vec<u8> {
    let mut leaf = Vec::with_capacity(1 + pixels.len());
    leaf.push(label);
    leaf.extend_from_slice(pixels);
    leaf
}

fn check_shards(shards: usize) -> Result<()> {
    if shards == 0 || shards > SHARDS_MAX {
        return Err(InferError::UnsupportedConfig(format!(
            "{shards} shards is outside 1..={SHARDS_MAX}"
        )));
    }
    Ok(())
}

/// IID shards: the indices `0..samples` shuffled with `seed`, cut into `shards` runs whose
/// lengths differ by at most one, each sorted.
pub fn partition_iid(samples: usize, shards: usize, seed: u64) -> Result<Vec<Vec<u32>>> {
    check_shards(shards)?;
    let mut order: Vec<u32> = (0..samples as u32).collect();
    Random::new(seed, 0).shuffle(&mut order);
    let mut result = Vec::with_capacity(shards);
    let mut start = 0;
    for shard in 0..shards {
        let end = samples * (shard + 1) / shards;
        let mut indices = order[start..end].to_vec();
        indices.sort_unstable();
        result.push(indices);
        start = end;
    }
    Ok(result)
}

/// Label-skewed shards (Hsu et al. 2019): for each class, in order, the class's samples are
/// shuffled and split between the shards in proportions drawn from a symmetric
/// Dirichlet(`alpha`) (normalised Gamma(`alpha`) draws); shard `k` gets the run from
/// `floor(n · c_k)` to `floor(n · c_{k+1})` of the cumulative proportions `c`. Small `alpha`
/// gives each shard few classes; large `alpha` approaches IID.
pub fn partition_dirichlet(
    labels: &[u8],
    shards: usize,
    alpha: f64,
    seed: u64,
) -> Result<Vec<Vec<u32>>> {
    check_shards(shards)?;
    if !(alpha > 0.0 && alpha.is_finite()) {
        return Err(InferError::UnsupportedConfig(format!(
            "Dirichlet alpha {alpha} must be positive"
        )));
    }
    let mut result = vec![Vec::new(); shards];
    for class in 0..=u8::MAX {
        let mut members: Vec<u32> = (0..labels.len() as u32)
            .filter(|&i| labels[i as usize] == class)
            .collect();
        if members.is_empty() {
            continue;
        }
        let mut random = Random::new(seed, 1 + class as u64);
        random.shuffle(&mut members);
        let draws: Vec<f64> = (0..shards).map(|_| random.gamma(alpha)).collect();
        let total: f64 = draws.iter().sum();
        let mut cumulative = 0.0;
        let mut start = 0;
        for (shard, draw) in draws.iter().enumerate() {
            cumulative += draw;
            let end = if shard + 1 == shards {
                members.len()
            } else {
                ((members.len() as f64 * cumulative / total) as usize).min(members.len())
            };
            result[shard].extend_from_slice(&members[start..end.max(start)]);
            start = end.max(start);
        }
    }
    for shard in &mut result {
        shard.sort_unstable();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_idx(count: usize) -> (Vec<u8>, Vec<u8>) {
        let mut images = Vec::new();
        for word in [IDX_IMAGES_MAGIC, count as u32, 2, 3] {
            images.extend_from_slice(&word.to_be_bytes());
        }
        images.extend((0..count * 6).map(|i| i as u8));
        let mut labels = Vec::new();
        for word in [IDX_LABELS_MAGIC, count as u32] {
            labels.extend_from_slice(&word.to_be_bytes());
        }
        labels.extend((0..count).map(|i| (i % 10) as u8));
        (images, labels)
    }

    #[test]
    fn a_sample_proves_against_the_dataset_root() {
        let (images, labels) = tiny_idx(5);
        let dataset = Dataset::from_idx(&images, &labels).expect("parses");
        let (pixels, label) = dataset.sample(3).expect("in range");
        let proof = dataset.proof(3).expect("in range");
        assert!(proof
            .verify(&dataset.root(), &sample_leaf(label, pixels))
            .is_ok());
        assert!(proof
            .verify(&dataset.root(), &sample_leaf(label + 1, pixels))
            .is_err());
    }

    #[test]
    fn truncated_or_mislabelled_idx_files_are_refused() {
        let (images, labels) = tiny_idx(4);
        for cut in 0..images.len() {
            assert!(Dataset::from_idx(&images[..cut], &labels).is_err());
        }
        assert!(Dataset::from_idx(&labels, &images).is_err());
        assert!(Dataset::from_idx(&images, &tiny_idx(3).1).is_err());
    }

    #[test]
    fn partitions_cover_every_sample_once_and_repeat_from_their_seed() {
        let labels: Vec<u8> = (0..1000).map(|i| (i * 7 % 10) as u8).collect();
        for shards in [
            partition_iid(labels.len(), 7, 3).expect("valid"),
            partition_dirichlet(&labels, 7, 0.3, 3).expect("valid"),
        ] {
            let mut all: Vec<u32> = shards.concat();
            all.sort_unstable();
            assert_eq!(all, (0..1000).collect::<Vec<u32>>());
        }
        assert_eq!(
            partition_dirichlet(&labels, 5, 0.5, 9).expect("valid"),
            partition_dirichlet(&labels, 5, 0.5, 9).expect("valid")
        );
    }

    #[test]
    fn a_small_alpha_skews_labels_more_than_a_large_one() {
        let labels: Vec<u8> = (0..5000).map(|i| (i % 10) as u8).collect();
        let classes_held = |alpha| {
            let shards = partition_dirichlet(&labels, 10, alpha, 1).expect("valid");
            shards
                .iter()
                .map(|shard| {
                    let mut counts = [0usize; 10];
                    shard
                        .iter()
                        .for_each(|&i| counts[labels[i as usize] as usize] += 1);
                    counts
                        .iter()
                        .filter(|&&c| c * 20 >= shard.len().max(1))
                        .count()
                })
                .sum::<usize>()
        };
        assert!(classes_held(0.1) < classes_held(100.0));
    }
}
