//! For publishers: from a manifest and its files, the registration and every chunk upload with
//! its proof. Pure, so the CLI, genesis and tests all cut and commit files the same way the
//! ledger checks them.

use super::msg::{chunk_hash, FileKind, Lineage, ModelFile, RegisterModel, UploadModelChunk};
use super::{check_register_shape, decode_manifest, ModelsError};
use surety_infer::ModelManifest;
use surety_types::merkle::MerkleTree;
use surety_types::ModelId;

/// The Merkle tree over the hashes of `bytes` cut into `chunk_bytes` pieces (the last holds the
/// remainder). Its root is a [`ModelFile::chunks_root`].
pub fn chunk_tree(bytes: &[u8], chunk_bytes: u32) -> MerkleTree {
    let leaves: Vec<[u8; 32]> = bytes
        .chunks(chunk_bytes.max(1) as usize)
        .map(|chunk| chunk_hash(chunk).0)
        .collect();
    MerkleTree::from_leaves(&leaves)
}

/// The commitment to one file.
pub fn commit_file(kind: FileKind, bytes: &[u8], chunk_bytes: u32) -> ModelFile {
    ModelFile {
        kind,
        bytes: bytes.len() as u64,
        chunk_bytes,
        chunks_root: chunk_tree(bytes, chunk_bytes).root(),
    }
}

/// A model ready to publish: its registration, and its files with their chunk trees, from
/// which any chunk's upload is made on demand (so resuming an upload needs no second copy).
pub struct Publication<'a> {
    /// The model's id (its manifest's hash).
    pub model: ModelId,
    /// The registration transaction's message.
    pub register: RegisterModel,
    files: Vec<(&'a [u8], MerkleTree)>,
}

impl<'a> Publication<'a> {
    /// Commit to `files` (in the order given) cut into `chunk_bytes` chunks.
    pub fn new(
        manifest: &ModelManifest,
        files: &[(FileKind, &'a [u8])],
        lineage: Lineage,
        chunk_bytes: u32,
    ) -> Result<Publication<'a>, ModelsError> {
        let register = RegisterModel {
            manifest: surety_types::encoding::encode(manifest),
            files: files
                .iter()
                .map(|(kind, bytes)| commit_file(*kind, bytes, chunk_bytes))
                .collect(),
            lineage,
        };
        Publication::from_registration(register, files.iter().map(|(_, b)| *b).collect())
    }

    /// From an existing registration and its files' bytes, in the registration's order;
    /// refuses bytes that do not match their commitment.
    pub fn from_registration(
        register: RegisterModel,
        contents: Vec<&'a [u8]>,
    ) -> Result<Publication<'a>, ModelsError> {
        check_register_shape(&register)?;
        let model = decode_manifest(&register.manifest)?.model_id();
        if contents.len() != register.files.len() {
            return Err(ModelsError::Publish(format!(
                "{} files given for a registration of {}",
                contents.len(),
                register.files.len()
            )));
        }
        let mut files = Vec::with_capacity(contents.len());
        for (file, (commitment, bytes)) in register.files.iter().zip(contents).enumerate() {
            let tree = chunk_tree(bytes, commitment.chunk_bytes);
            if bytes.len() as u64 != commitment.bytes || tree.root() != commitment.chunks_root {
                return Err(ModelsError::Publish(format!(
                    "file {file} ({} bytes) does not match its commitment ({} bytes, chunks \
                     root {})",
                    bytes.len(),
                    commitment.bytes,
                    commitment.chunks_root
                )));
            }
            files.push((bytes, tree));
        }
        Ok(Publication {
            model,
            register,
            files,
        })
    }

    /// Chunks in file `file` (0 if there is no such file).
    pub fn chunk_count(&self, file: u32) -> u32 {
        self.register
            .files
            .get(file as usize)
            // Checked at registration: a file has at most u32::MAX chunks.
            .map_or(0, |commitment| commitment.chunk_count() as u32)
    }

    /// Chunks in all files.
    pub fn chunks_total(&self) -> u64 {
        self.register.files.iter().map(ModelFile::chunk_count).sum()
    }

    /// The upload of chunk `index` of file `file`, with its proof; `None` past the end.
    pub fn upload(&self, file: u32, index: u32) -> Option<UploadModelChunk> {
        let (bytes, tree) = self.files.get(file as usize)?;
        let chunk_bytes = self.register.files[file as usize].chunk_bytes as usize;
        let start = (index as usize).checked_mul(chunk_bytes)?;
        let end = start.checked_add(chunk_bytes)?.min(bytes.len());
        let chunk = bytes.get(start..end).filter(|c| !c.is_empty())?;
        Some(UploadModelChunk {
            model: self.model,
            file,
            index,
            bytes: chunk.to_vec(),
            proof: tree.proof(index as usize)?,
        })
    }

    /// Every upload, file by file, chunk by chunk.
    pub fn uploads(&self) -> impl Iterator<Item = UploadModelChunk> + '_ {
        (0..self.register.files.len() as u32).flat_map(move |file| {
            (0..self.chunk_count(file)).filter_map(move |index| self.upload(file, index))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_of_a_file_proves_against_its_chunks_root() {
        let bytes: Vec<u8> = (0..=250u8).collect();
        let commitment = commit_file(FileKind::Safetensors, &bytes, 16);
        let tree = chunk_tree(&bytes, 16);
        assert_eq!(commitment.chunk_count(), 16);
        for (index, chunk) in bytes.chunks(16).enumerate() {
            let proof = tree.proof(index).unwrap();
            assert!(proof
                .verify(&commitment.chunks_root, chunk_hash(chunk).as_bytes())
                .is_ok());
            assert_eq!(commitment.chunk_len(index as u32), Some(chunk.len() as u64));
        }
    }
}
