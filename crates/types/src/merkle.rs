//! Binary Merkle trees over an ordered list of leaves, with inclusion proofs.
//!
//! Used for trace roots (one leaf per step's activation hash) and weights roots (one leaf per
//! tensor). Leaves and inner nodes are hashed under different domains (as in RFC 6962), so an
//! inner node can never be presented as a leaf. An odd node at the end of a level is promoted
//! unchanged, so the tree of `n` leaves is fixed by `n` alone and proofs are at most
//! `ceil(log2 n)` hashes.

use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

const LEAF_DOMAIN: &str = "surety.merkle.leaf";
const NODE_DOMAIN: &str = "surety.merkle.node";
const EMPTY_DOMAIN: &str = "surety.merkle.empty";

/// Longest proof accepted: enough for 2^64 leaves.
pub const PROOF_HASHES_MAX: usize = 64;

/// Hash of a leaf's bytes, as it enters the tree.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    Hash::of(LEAF_DOMAIN, leaf)
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::of_parts(NODE_DOMAIN, &[left.as_bytes(), right.as_bytes()])
}

/// The root of an empty tree.
pub fn empty_root() -> Hash {
    Hash::of(EMPTY_DOMAIN, b"")
}

/// A Merkle tree kept whole, so that proofs for any leaf can be produced.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// `levels[0]` are the leaf hashes; the last level holds the root alone.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Build from already-hashed leaves (each the output of [`leaf_hash`]).
    pub fn from_leaf_hashes(leaves: Vec<Hash>) -> MerkleTree {
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = levels.last().expect("at least one level");
            let above = below
                .chunks(2)
                .map(|pair| match pair {
                    [left, right] => node_hash(left, right),
                    [single] => *single,
                    _ => unreachable!("chunks(2) yields one or two items"),
                })
                .collect();
            levels.push(above);
        }
        MerkleTree { levels }
    }

    /// Build from raw leaf bytes.
    pub fn from_leaves<L: AsRef<[u8]>>(leaves: &[L]) -> MerkleTree {
        MerkleTree::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l.as_ref())).collect())
    }

    /// How many leaves the tree was built from.
    pub fn leaf_count(&self) -> usize {
        self.levels[0].len()
    }

    /// The hash that commits to every leaf and its position; [`empty_root`] for no leaves.
    pub fn root(&self) -> Hash {
        match self.levels.last() {
            Some(top) if top.len() == 1 => top[0],
            _ => empty_root(),
        }
    }

    /// Inclusion proof for leaf `index`, or `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.leaf_count() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut position = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = position ^ 1;
            if sibling < level.len() {
                siblings.push(level[sibling]);
            }
            position /= 2;
        }
        Some(MerkleProof {
            index: index as u64,
            leaf_count: self.leaf_count() as u64,
            siblings,
        })
    }
}

/// Merkle root of raw leaves without keeping the tree.
pub fn root_of<L: AsRef<[u8]>>(leaves: &[L]) -> Hash {
    MerkleTree::from_leaves(leaves).root()
}

/// Proof that a leaf sits at `index` in a tree of `leaf_count` leaves.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct MerkleProof {
    /// Position of the proven leaf, from 0.
    pub index: u64,
    /// Leaves in the whole tree. It fixes the tree's shape, so it says at which levels the
    /// leaf's branch has a sibling and at which it is promoted unchanged.
    pub leaf_count: u64,
    /// The sibling hash at each level where there is one, from the leaf's level up.
    pub siblings: Vec<Hash>,
}

/// Why a Merkle proof was refused. Proofs arrive in transactions, so each way of being wrong
/// is a distinct error the sender can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The proof claims a leaf position the tree does not have.
    #[error("leaf index {index} is outside a tree of {leaf_count} leaves")]
    IndexOutOfRange {
        /// The claimed position.
        index: u64,
        /// Leaves the proof says the tree has.
        leaf_count: u64,
    },
    /// The proof has more or fewer sibling hashes than its index and leaf count call for (or
    /// more than [`PROOF_HASHES_MAX`]).
    #[error("proof has {actual} sibling hashes, the tree shape needs {expected}")]
    WrongLength {
        /// Hashes the shape needs: when the proof ran short, at least this many; when it
        /// was longer than [`PROOF_HASHES_MAX`], at most this many.
        expected: usize,
        /// Hashes the proof carries.
        actual: usize,
    },
    /// The proof is well formed but hashes to a different root: the leaf is not there.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

impl MerkleProof {
    /// Check that `leaf` (raw bytes) is at `self.index` under `root`.
    pub fn verify(&self, root: &Hash, leaf: &[u8]) -> Result<(), ProofError> {
        self.verify_leaf_hash(root, &leaf_hash(leaf))
    }

    /// Check that a leaf whose [`leaf_hash`] is `leaf` is at `self.index` under `root`.
    pub fn verify_leaf_hash(&self, root: &Hash, leaf: &Hash) -> Result<(), ProofError> {
        if self.index >= self.leaf_count {
            return Err(ProofError::IndexOutOfRange {
                index: self.index,
                leaf_count: self.leaf_count,
            });
        }
        if self.siblings.len() > PROOF_HASHES_MAX {
            return Err(ProofError::WrongLength {
                expected: PROOF_HASHES_MAX,
                actual: self.siblings.len(),
            });
        }
        let mut hash = *leaf;
        let mut position = self.index;
        let mut width = self.leaf_count;
        let mut used = 0usize;
        while width > 1 {
            let sibling = position ^ 1;
            if sibling < width {
                let Some(other) = self.siblings.get(used) else {
                    return Err(ProofError::WrongLength {
                        expected: used + 1,
                        actual: self.siblings.len(),
                    });
                };
                used += 1;
                hash = if position.is_multiple_of(2) {
                    node_hash(&hash, other)
                } else {
                    node_hash(other, &hash)
                };
            }
            position /= 2;
            width = width.div_ceil(2);
        }
        if used != self.siblings.len() {
            return Err(ProofError::WrongLength {
                expected: used,
                actual: self.siblings.len(),
            });
        }
        if &hash == root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_single_leaf_is_its_own_root() {
        let tree = MerkleTree::from_leaves(&[b"only"]);
        assert_eq!(tree.root(), leaf_hash(b"only"));
        assert!(tree.proof(0).unwrap().siblings.is_empty());
    }

    #[test]
    fn an_empty_tree_has_the_empty_root() {
        let tree = MerkleTree::from_leaves::<&[u8]>(&[]);
        assert_eq!(tree.root(), empty_root());
        assert!(tree.proof(0).is_none());
    }

    #[test]
    fn a_proof_for_one_leaf_fails_for_another() {
        let leaves: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i]).collect();
        let tree = MerkleTree::from_leaves(&leaves);
        let proof = tree.proof(2).unwrap();
        assert_eq!(proof.verify(&tree.root(), &[2]), Ok(()));
        assert_eq!(
            proof.verify(&tree.root(), &[3]),
            Err(ProofError::RootMismatch)
        );
    }

    #[test]
    fn a_proof_with_an_extra_sibling_is_rejected() {
        let tree = MerkleTree::from_leaves(&[b"a", b"b", b"c"]);
        let mut proof = tree.proof(0).unwrap();
        proof.siblings.push(Hash::ZERO);
        assert!(matches!(
            proof.verify(&tree.root(), b"a"),
            Err(ProofError::WrongLength { .. })
        ));
    }

    proptest! {
        #[test]
        fn every_leaf_proves_against_the_root(count in 1usize..70, pick in any::<prop::sample::Index>()) {
            let leaves: Vec<Vec<u8>> = (0..count).map(|i| (i as u32).to_le_bytes().to_vec()).collect();
            let tree = MerkleTree::from_leaves(&leaves);
            let index = pick.index(count);
            let proof = tree.proof(index).unwrap();
            prop_assert!(proof.siblings.len() <= (usize::BITS - (count - 1).leading_zeros()) as usize);
            prop_assert_eq!(proof.verify(&tree.root(), &leaves[index]), Ok(()));
            let mut moved = proof.clone();
            moved.index = ((index + 1) % count) as u64;
            if count > 1 {
                prop_assert!(moved.verify(&tree.root(), &leaves[index]).is_err());
            }
        }

        #[test]
        fn changing_any_leaf_changes_the_root(count in 1usize..40, pick in any::<prop::sample::Index>()) {
            let mut leaves: Vec<Vec<u8>> = (0..count).map(|i| vec![i as u8]).collect();
            let before = root_of(&leaves);
            leaves[pick.index(count)].push(0xff);
            prop_assert_ne!(before, root_of(&leaves));
        }
    }
}
