//! The model registry, end to end: models registered and uploaded chunk by chunk through signed
//! transactions, activated when their files make the registered model, rejected when they do
//! not, expired when the upload does not finish in time (the deposit returned or burned), and
//! loaded from state by any node. Every block is followed by a full invariant check
//! (see `common::Chain::block`).

use crate::common::*;
use std::collections::BTreeMap;
use surety_infer::models::mlp::{self, MlpConfig};
use surety_infer::safetensors_loader::save_safetensors_f32;
use surety_infer::{Executor, ModelManifest};
use surety_ledger::bank::{BankError, Pool};
use surety_ledger::genesis::{GenesisError, GenesisModel};
use surety_ledger::models::{
    self, FileKind, Lineage, ModelStatus, ModelsError, Publication, Training, UploadModelChunk,
};
use surety_ledger::params::Params;
use surety_ledger::tx::{Msg, TxError};
use surety_ledger::{Event, Ledger};
use surety_types::{Amount, Height, ModelId};

/// Small chunks, so a tiny model still takes several uploads.
const CHUNK_BYTES: u32 = 64;
const PUBLISHER: u16 = 20;
const UPLOADER: u16 = 21;

fn chain() -> Chain {
    chain_with(test_params())
}

fn chain_with(params: Params) -> Chain {
    Chain::new(
        params,
        &[
            (1, 1_000_000),
            (PUBLISHER, 1_000_000),
            (UPLOADER, 1_000_000),
        ],
        &[(1, 100_000)],
    )
}

/// A 4 → 3 → 2 MLP whose weights are drawn from `seed`, as a safetensors file.
fn mlp_file(seed: u32) -> Vec<u8> {
    let value = |i: u32| ((i.wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 1000.0 - 0.5;
    let tensor = |name: &'static str, shape: Vec<usize>, offset: u32| {
        let count = shape.iter().product::<usize>() as u32;
        (name, shape, (offset..offset + count).map(value).collect())
    };
    save_safetensors_f32(&[
        tensor("layers.0.weight", vec![3, 4], 0),
        tensor("layers.0.bias", vec![3], 100),
        tensor("layers.1.weight", vec![2, 3], 200),
        tensor("layers.1.bias", vec![2], 300),
    ])
    .expect("safetensors serialise")
}

fn mlp_config() -> MlpConfig {
    MlpConfig {
        widths: vec![4, 3, 2],
    }
}

fn mlp_manifest(name: &str, weights: &[u8]) -> ModelManifest {
    mlp::load_mlp(name, weights, mlp_config())
        .expect("tiny MLP loads")
        .manifest()
        .clone()
}

fn publication<'a>(
    manifest: &ModelManifest,
    weights: &'a [u8],
    lineage: Lineage,
) -> Publication<'a> {
    Publication::new(
        manifest,
        &[(FileKind::Safetensors, weights)],
        lineage,
        CHUNK_BYTES,
    )
    .expect("a valid publication")
}

fn register(publication: &Publication) -> Msg {
    Msg::RegisterModel(Box::new(publication.register.clone()))
}

fn upload(chunk: UploadModelChunk) -> Msg {
    Msg::UploadModelChunk(Box::new(chunk))
}

fn status(chain: &Chain, model: &ModelId) -> ModelStatus {
    models::state::model(chain.ledger.store(), model)
        .expect("model is registered")
        .status
}

fn models_error(receipt: &surety_ledger::Receipt) -> ModelsError {
    match &receipt.error_kind {
        Some(TxError::Models(error)) => error.clone(),
        other => panic!("expected a models error, got {other:?}"),
    }
}

/// Register and upload every chunk, one block per chunk; returns the last block's events.
fn publish(chain: &mut Chain, publication: &Publication) -> Vec<Event> {
    chain.submit_ok(PUBLISHER, register(publication));
    let mut events = Vec::new();
    for chunk in publication.uploads() {
        events = chain.submit_ok(UPLOADER, upload(chunk)).events;
    }
    events
}

const INPUT: [f32; 8] = [0.5, -1.0, 0.25, 2.0, 1.0, 0.0, -0.5, 0.75];

fn logits(model: &surety_infer::Model) -> Vec<u32> {
    let executor = Executor::new(1).expect("executor");
    let (logits, _) = mlp::classify_rows(model, &executor, 4, &INPUT).expect("model runs");
    logits.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_model_uploaded_chunk_by_chunk_becomes_active_and_runs() {
    let mut chain = chain();
    let weights = mlp_file(1);
    let manifest = mlp_manifest("tiny-mlp", &weights);
    let publication = publication(&manifest, &weights, Lineage::default());
    let chunks = publication.chunks_total();
    assert!(chunks > 3, "the tiny model spans several chunks");

    // A file of a few hundred bytes pays the least deposit.
    let deposit = chain.ledger.params().models.model_deposit_min;
    let expires =
        Height::new(chain.height().get() + 1 + chain.ledger.params().models.model_upload_blocks);
    let before = chain.balance(PUBLISHER);
    let registered = chain.submit_ok(PUBLISHER, register(&publication));
    assert!(registered.events.contains(&Event::Models(
        surety_ledger::models::ModelsEvent::ModelRegistered {
            model: publication.model,
            publisher: account(PUBLISHER),
            deposit,
            expires,
        }
    )));
    let fee = Amount::new(10);
    assert_eq!(
        chain.balance(PUBLISHER),
        Amount::new(before.get() - fee.get() - deposit.get())
    );
    assert_eq!(chain.pool(Pool::ModelDeposits), deposit);
    let record = models::state::model(chain.ledger.store(), &publication.model).unwrap();
    assert_eq!(record.id, manifest.model_id());
    assert_eq!(record.name, "tiny-mlp");
    assert_eq!(record.steps, manifest.architecture.program().len() as u64);
    assert!(!record.text);
    assert_eq!(
        record.status,
        ModelStatus::Uploading {
            chunks_stored: 0,
            chunks_total: chunks,
            deposit,
            expires,
        }
    );
    assert!(matches!(
        chain.ledger.model(&publication.model),
        Err(ModelsError::NotActive(_))
    ));

    let uploads: Vec<_> = publication.uploads().collect();
    let (last, first) = uploads.split_last().unwrap();
    for (stored, chunk) in first.iter().enumerate() {
        chain.submit_ok(UPLOADER, upload(chunk.clone()));
        assert_eq!(
            status(&chain, &publication.model),
            ModelStatus::Uploading {
                chunks_stored: stored as u64 + 1,
                chunks_total: chunks,
                deposit,
                expires,
            }
        );
    }
    let before = chain.balance(PUBLISHER);
    let activated = chain.submit_ok(UPLOADER, upload(last.clone()));
    assert!(activated.events.contains(&Event::Models(
        surety_ledger::models::ModelsEvent::ModelActivated {
            model: publication.model,
            deposit_returned: deposit,
        }
    )));
    assert_eq!(
        chain.balance(PUBLISHER),
        Amount::new(before.get() + deposit.get())
    );
    assert_eq!(chain.pool(Pool::ModelDeposits), Amount::ZERO);
    assert_eq!(
        status(&chain, &publication.model),
        ModelStatus::Active {
            height: chain.height()
        }
    );

    let direct = mlp::load_mlp("tiny-mlp", &weights, mlp_config()).unwrap();
    let loaded = chain
        .ledger
        .model(&publication.model)
        .expect("active model loads");
    assert_eq!(loaded.manifest(), &manifest);
    assert_eq!(logits(&loaded), logits(&direct));
}

#[test]
fn a_node_restored_from_state_loads_an_active_model_from_its_stored_chunks() {
    let mut chain = chain();
    let weights = mlp_file(2);
    let manifest = mlp_manifest("restored", &weights);
    let publication = publication(&manifest, &weights, Lineage::default());
    publish(&mut chain, &publication);

    let entries: Vec<_> = chain
        .ledger
        .store()
        .committed_entries()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let restored = Ledger::restore(
        entries,
        chain.ledger.height(),
        chain.ledger.timestamp_ms(),
        chain.ledger.state_root(),
    )
    .expect("state restores");
    let model = restored
        .model(&publication.model)
        .expect("loads from chunks");
    assert_eq!(model.manifest(), &manifest);
    let direct = mlp::load_mlp("restored", &weights, mlp_config()).unwrap();
    assert_eq!(logits(&model), logits(&direct));
}

#[test]
fn anyone_may_upload_a_chunk_since_it_proves_itself() {
    let mut chain = chain();
    let weights = mlp_file(3);
    let publication = publication(
        &mlp_manifest("shared", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    for (n, chunk) in publication.uploads().enumerate() {
        let uploader = if n % 2 == 0 { PUBLISHER } else { UPLOADER };
        chain.submit_ok(uploader, upload(chunk));
    }
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Active { .. }
    ));
}

#[test]
fn a_tampered_chunk_is_refused_and_changes_nothing_but_fee_and_nonce() {
    let mut chain = chain();
    let weights = mlp_file(4);
    let publication = publication(
        &mlp_manifest("tampered", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    let mut chunk = publication.upload(0, 1).unwrap();
    chunk.bytes[0] ^= 1;
    let (balance, nonce) = (chain.balance(UPLOADER), chain.nonce(UPLOADER));

    let receipt = chain.submit(UPLOADER, upload(chunk));
    assert!(receipt.charged);
    assert!(matches!(
        models_error(&receipt),
        ModelsError::BadProof {
            file: 0,
            index: 1,
            ..
        }
    ));
    assert_eq!(
        chain.balance(UPLOADER),
        balance.checked_sub(Amount::new(10)).unwrap()
    );
    assert_eq!(chain.nonce(UPLOADER), nonce + 1);
    assert!(!models::state::has_chunk(
        chain.ledger.store(),
        &publication.model,
        0,
        1
    ));
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Uploading {
            chunks_stored: 0,
            ..
        }
    ));
}

#[test]
fn a_proof_for_another_position_is_refused() {
    let mut chain = chain();
    let weights = mlp_file(5);
    let publication = publication(
        &mlp_manifest("moved", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    // Chunk 1's bytes and proof presented as chunk 2.
    let mut moved = publication.upload(0, 1).unwrap();
    moved.index = 2;
    let receipt = chain.submit(UPLOADER, upload(moved));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::ProofPosition { .. }
    ));
}

#[test]
fn a_chunk_already_stored_is_refused() {
    let mut chain = chain();
    let weights = mlp_file(6);
    let publication = publication(
        &mlp_manifest("twice", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    let chunk = publication.upload(0, 0).unwrap();
    chain.submit_ok(UPLOADER, upload(chunk.clone()));
    let receipt = chain.submit(UPLOADER, upload(chunk));
    assert_eq!(
        models_error(&receipt),
        ModelsError::ChunkStored { file: 0, index: 0 }
    );
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Uploading {
            chunks_stored: 1,
            ..
        }
    ));
}

#[test]
fn uploads_past_the_end_of_the_wrong_length_or_to_an_unknown_model_are_refused() {
    let mut chain = chain();
    let weights = mlp_file(7);
    let publication = publication(
        &mlp_manifest("bounds", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    let chunk = publication.upload(0, 0).unwrap();

    let past_end = UploadModelChunk {
        index: publication.chunk_count(0),
        ..chunk.clone()
    };
    let receipt = chain.submit(UPLOADER, upload(past_end));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::ChunkIndex { .. }
    ));

    let no_file = UploadModelChunk {
        file: 1,
        ..chunk.clone()
    };
    let receipt = chain.submit(UPLOADER, upload(no_file));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::UnknownFile { .. }
    ));

    let mut short = chunk.clone();
    short.bytes.pop();
    let receipt = chain.submit(UPLOADER, upload(short));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::ChunkLength { .. }
    ));

    let unknown = UploadModelChunk {
        model: ModelId([7; 32]),
        ..chunk
    };
    let receipt = chain.submit(UPLOADER, upload(unknown));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::UnknownModel(_)
    ));
}

#[test]
fn an_empty_or_oversized_chunk_never_enters_the_mempool() {
    let chain = chain();
    let weights = mlp_file(8);
    let publication = publication(
        &mlp_manifest("shape", &weights),
        &weights,
        Lineage::default(),
    );
    let mut empty = publication.upload(0, 0).unwrap();
    empty.bytes.clear();
    let tx = chain.sign(UPLOADER, upload(empty));
    assert!(matches!(
        chain.ledger.check_stateless(&tx),
        Err(TxError::Models(ModelsError::ChunkBytes { got: 0, .. }))
    ));
    let mut garbled = publication.register.clone();
    garbled.manifest.truncate(10);
    let tx = chain.sign(PUBLISHER, Msg::RegisterModel(Box::new(garbled)));
    assert!(matches!(
        chain.ledger.check_stateless(&tx),
        Err(TxError::Models(ModelsError::ManifestDecode(_)))
    ));
}

#[test]
fn files_that_match_their_commitment_but_not_the_manifest_are_rejected_and_deleted() {
    let mut chain = chain();
    let registered_weights = mlp_file(9);
    let other_weights = mlp_file(10);
    assert_eq!(registered_weights.len(), other_weights.len());
    // The publisher commits to files that are not the manifest's weights.
    let manifest = mlp_manifest("bait", &registered_weights);
    let publication = publication(&manifest, &other_weights, Lineage::default());

    let burned = chain.pool(Pool::Burned);
    let events = publish(&mut chain, &publication);
    let reason = match status(&chain, &publication.model) {
        ModelStatus::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert!(reason.contains("weights root"), "{reason}");
    let deposit = chain.ledger.params().models.model_deposit_min;
    assert!(events.contains(&Event::Models(
        surety_ledger::models::ModelsEvent::ModelRejected {
            model: publication.model,
            reason,
            deposit_burned: deposit,
        }
    )));
    assert_eq!(
        chain.pool(Pool::Burned),
        Amount::new(burned.get() + deposit.get())
    );
    assert_eq!(chain.pool(Pool::ModelDeposits), Amount::ZERO);
    for index in 0..publication.chunk_count(0) {
        assert!(!models::state::has_chunk(
            chain.ledger.store(),
            &publication.model,
            0,
            index
        ));
    }
    assert!(matches!(
        chain.ledger.model(&publication.model),
        Err(ModelsError::NotActive(_))
    ));
    let late = publication.upload(0, 0).unwrap();
    let receipt = chain.submit(UPLOADER, upload(late));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::NotUploading(_)
    ));

    // The bait does not hold the id: the real files are registered under it and activate.
    let honest = self::publication(&manifest, &registered_weights, Lineage::default());
    assert_eq!(honest.model, publication.model);
    chain.submit_ok(UPLOADER, register(&honest));
    for chunk in honest.uploads() {
        chain.submit_ok(UPLOADER, upload(chunk));
    }
    let record = models::state::model(chain.ledger.store(), &honest.model).unwrap();
    assert!(matches!(record.status, ModelStatus::Active { .. }));
    assert_eq!(record.publisher, account(UPLOADER));
    assert_eq!(
        logits(&chain.ledger.model(&honest.model).unwrap()),
        logits(&mlp::load_mlp("bait", &registered_weights, mlp_config()).unwrap())
    );
}

#[test]
fn an_upload_not_finished_in_time_expires_deleting_its_chunks_and_burning_the_deposit() {
    let mut params = test_params();
    params.models.model_upload_blocks = 6;
    let mut chain = chain_with(params);
    let weights = mlp_file(13);
    let manifest = mlp_manifest("slow", &weights);
    // Commitments no bytes can meet: the chunks root of other weights of the same length.
    let other = mlp_file(14);
    let squatter = publication(&manifest, &other, Lineage::default());
    let receipt = chain.submit_ok(PUBLISHER, register(&squatter));
    let registered_at = chain.height();
    let deposit = chain.ledger.params().models.model_deposit_min;
    assert_eq!(chain.pool(Pool::ModelDeposits), deposit);
    assert!(receipt.events.contains(&Event::Models(
        surety_ledger::models::ModelsEvent::ModelRegistered {
            model: squatter.model,
            publisher: account(PUBLISHER),
            deposit,
            expires: Height::new(registered_at.get() + 6),
        }
    )));
    // Some chunks land, then the upload stalls.
    for chunk in squatter.uploads().take(2) {
        chain.submit_ok(UPLOADER, upload(chunk));
    }
    assert!(models::state::has_chunk(
        chain.ledger.store(),
        &squatter.model,
        0,
        0
    ));
    // While it is uploading the id is taken.
    let honest = publication(&manifest, &weights, Lineage::default());
    assert_eq!(
        models_error(&chain.submit(UPLOADER, register(&honest))),
        ModelsError::AlreadyRegistered(squatter.model)
    );

    let burned = chain.pool(Pool::Burned);
    let mut expired_events = Vec::new();
    while chain.height() < Height::new(registered_at.get() + 6) {
        expired_events = chain.block(&[]).events;
    }
    assert!(expired_events.contains(&Event::Models(
        surety_ledger::models::ModelsEvent::ModelExpired {
            model: squatter.model,
            deposit_burned: deposit,
        }
    )));
    assert_eq!(
        status(&chain, &squatter.model),
        ModelStatus::Expired {
            height: Height::new(registered_at.get() + 6)
        }
    );
    assert_eq!(
        chain.pool(Pool::Burned),
        Amount::new(burned.get() + deposit.get())
    );
    assert_eq!(chain.pool(Pool::ModelDeposits), Amount::ZERO);
    for index in 0..squatter.chunk_count(0) {
        assert!(!models::state::has_chunk(
            chain.ledger.store(),
            &squatter.model,
            0,
            index
        ));
    }
    let receipt = chain.submit(UPLOADER, upload(squatter.upload(0, 2).unwrap()));
    assert_eq!(
        models_error(&receipt),
        ModelsError::NotUploading(squatter.model)
    );

    // The id is free again: the real files register, upload in time and activate; the
    // publisher gets its deposit back.
    chain.submit_ok(UPLOADER, register(&honest));
    let before = chain.balance(UPLOADER);
    let chunks = honest.chunks_total();
    for chunk in honest.uploads() {
        chain.submit_ok(UPLOADER, upload(chunk));
    }
    assert!(matches!(
        status(&chain, &honest.model),
        ModelStatus::Active { .. }
    ));
    assert_eq!(
        chain.balance(UPLOADER),
        Amount::new(before.get() + deposit.get() - 10 * u128::from(chunks))
    );
    // Its old expiry height passes without effect.
    chain.run_blocks(8);
    assert!(matches!(
        status(&chain, &honest.model),
        ModelStatus::Active { .. }
    ));
}

#[test]
fn a_last_chunk_landing_in_the_block_of_the_expiry_still_activates_the_model() {
    let mut params = test_params();
    params.models.model_upload_blocks = 20;
    let mut chain = chain_with(params);
    let weights = mlp_file(19);
    let publication = publication(
        &mlp_manifest("just-in-time", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    let expires = Height::new(chain.height().get() + 20);
    let uploads: Vec<_> = publication.uploads().collect();
    let (last, first) = uploads.split_last().unwrap();
    for chunk in first {
        chain.submit_ok(UPLOADER, upload(chunk.clone()));
    }
    while chain.height().get() + 1 < expires.get() {
        chain.block(&[]);
    }
    let before = chain.balance(PUBLISHER);
    let receipt = chain.submit_ok(UPLOADER, upload(last.clone()));
    assert_eq!(chain.height(), expires);
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        Event::Models(surety_ledger::models::ModelsEvent::ModelActivated { .. })
    )));
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Active { .. }
    ));
    let deposit = chain.ledger.params().models.model_deposit_min;
    assert_eq!(
        chain.balance(PUBLISHER),
        Amount::new(before.get() + deposit.get())
    );
}

#[test]
fn an_upload_claiming_half_a_billion_chunks_expires_at_the_cost_of_what_was_stored() {
    let mut params = test_params();
    params.models.model_upload_blocks = 3;
    let mut chain = chain_with(params);
    let weights = mlp_file(16);
    let manifest = mlp_manifest("one-byte-chunks", &weights);
    let mut publication = publication(&manifest, &weights, Lineage::default());
    // 512 MiB in chunks of one byte: 2^29 chunks, none of which will ever come.
    let file = &mut publication.register.files[0];
    file.bytes = 512 << 20;
    file.chunk_bytes = 1;
    chain.submit_ok(PUBLISHER, register(&publication));
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Uploading {
            chunks_total: 536_870_912,
            ..
        }
    ));
    // Expiry deletes the chunks that are stored (none), not every index the file claims.
    chain.run_blocks(3);
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Expired { .. }
    ));
}

#[test]
fn a_publisher_short_of_the_deposit_is_refused_and_nothing_is_registered() {
    let mut params = test_params();
    params.models.model_deposit_per_mib = Amount::new(5_000_000);
    let mut chain = chain_with(params);
    let weights = mlp_file(15);
    let publication = publication(
        &mlp_manifest("unfunded", &weights),
        &weights,
        Lineage::default(),
    );
    let receipt = chain.submit(PUBLISHER, register(&publication));
    assert!(receipt.charged);
    assert!(matches!(
        models_error(&receipt),
        ModelsError::Deposit(BankError::InsufficientFunds { .. })
    ));
    assert!(models::state::model(chain.ledger.store(), &publication.model).is_none());
    assert_eq!(chain.pool(Pool::ModelDeposits), Amount::ZERO);
    assert!(models::state::all_expiries(chain.ledger.store()).is_empty());
}

#[test]
fn the_deposit_is_per_mib_of_files_rounded_up_and_at_least_the_minimum() {
    let mut params = test_params();
    let per_mib = params.models.model_deposit_per_mib;
    let min = params.models.model_deposit_min;
    assert!(!per_mib.is_zero() && min.get() > per_mib.get());
    let deposit = |params: &Params, bytes| models::registration_deposit(params, bytes).unwrap();
    assert_eq!(deposit(&params, 1), min);
    assert_eq!(
        deposit(&params, 512 << 20),
        Amount::new(512 * per_mib.get())
    );
    params.models.model_deposit_min = Amount::ZERO;
    assert_eq!(deposit(&params, 1), per_mib);
    assert_eq!(deposit(&params, 1 << 20), per_mib);
    assert_eq!(
        deposit(&params, (1 << 20) + 1),
        Amount::new(2 * per_mib.get())
    );
    // MiniLM's weights and tokenizer: 90,868,376 + 466,247 bytes, 87.1 MiB.
    assert_eq!(
        deposit(&params, 91_334_623),
        Amount::new(88 * per_mib.get())
    );
}

#[test]
fn files_that_do_not_load_at_all_are_rejected() {
    let mut chain = chain();
    let weights = mlp_file(11);
    let manifest = mlp_manifest("garbage", &weights);
    let garbage = vec![0xab; weights.len()];
    let publication = publication(&manifest, &garbage, Lineage::default());
    publish(&mut chain, &publication);
    assert!(matches!(
        status(&chain, &publication.model),
        ModelStatus::Rejected { reason } if reason.starts_with("safetensors")
    ));
}

#[test]
fn a_model_is_registered_once() {
    let mut chain = chain();
    let weights = mlp_file(12);
    let publication = publication(
        &mlp_manifest("once", &weights),
        &weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&publication));
    let receipt = chain.submit(UPLOADER, register(&publication));
    assert_eq!(
        models_error(&receipt),
        ModelsError::AlreadyRegistered(publication.model)
    );
}

#[test]
fn a_registration_naming_an_unregistered_parent_is_refused() {
    let mut chain = chain();
    let weights = mlp_file(13);
    let lineage = Lineage {
        parent: Some(ModelId([9; 32])),
        training: Training::Published,
    };
    let publication = publication(&mlp_manifest("orphan", &weights), &weights, lineage);
    let receipt = chain.submit(PUBLISHER, register(&publication));
    assert_eq!(
        models_error(&receipt),
        ModelsError::UnknownParent(ModelId([9; 32]))
    );
    assert!(models::state::model(chain.ledger.store(), &publication.model).is_none());
}

#[test]
fn a_parent_still_uploading_cannot_be_named() {
    let mut chain = chain();
    let base_weights = mlp_file(17);
    let base = publication(
        &mlp_manifest("unfinished-base", &base_weights),
        &base_weights,
        Lineage::default(),
    );
    chain.submit_ok(PUBLISHER, register(&base));
    let child_weights = mlp_file(18);
    let child = publication(
        &mlp_manifest("child", &child_weights),
        &child_weights,
        Lineage {
            parent: Some(base.model),
            training: Training::Published,
        },
    );
    let receipt = chain.submit(PUBLISHER, register(&child));
    assert_eq!(
        models_error(&receipt),
        ModelsError::ParentNotActive(base.model)
    );
    for chunk in base.uploads() {
        chain.submit_ok(UPLOADER, upload(chunk));
    }
    chain.submit_ok(PUBLISHER, register(&child));
}

#[test]
fn a_derived_model_keeps_its_lineage() {
    let mut chain = chain();
    let base_weights = mlp_file(14);
    let base = publication(
        &mlp_manifest("base", &base_weights),
        &base_weights,
        Lineage::default(),
    );
    publish(&mut chain, &base);

    let tuned_weights = mlp_file(15);
    let lineage = Lineage {
        parent: Some(base.model),
        training: Training::OffChain {
            description: "fine-tuned on digits 0-4, 3 epochs".into(),
        },
    };
    let tuned = publication(
        &mlp_manifest("tuned", &tuned_weights),
        &tuned_weights,
        lineage.clone(),
    );
    chain.submit_ok(PUBLISHER, register(&tuned));
    let record = models::state::model(chain.ledger.store(), &tuned.model).unwrap();
    assert_eq!(record.lineage, lineage);
    assert_eq!(record.publisher, account(PUBLISHER));
}

#[test]
fn a_file_larger_than_the_chain_allows_is_refused() {
    let mut params = test_params();
    params.models.model_file_bytes_max = 100;
    let mut chain = chain_with(params);
    let weights = mlp_file(16);
    assert!(weights.len() > 100);
    let publication = publication(&mlp_manifest("big", &weights), &weights, Lineage::default());
    let receipt = chain.submit(PUBLISHER, register(&publication));
    assert!(matches!(
        models_error(&receipt),
        ModelsError::FileTooLarge { max: 100, .. }
    ));
}

fn genesis_with_model(weights: &[u8]) -> (surety_ledger::genesis::Genesis, ModelId) {
    let manifest = mlp_manifest("genesis-mlp", weights);
    let publication = publication(&manifest, weights, Lineage::default());
    let mut genesis = genesis(test_params(), &[(1, 1_000_000)], &[(1, 100_000)]);
    genesis.models.push(GenesisModel {
        publisher: account(PUBLISHER),
        registration: publication.register.clone(),
    });
    (genesis, publication.model)
}

#[test]
fn a_genesis_model_with_its_files_is_active_at_height_zero() {
    let weights = mlp_file(17);
    let (genesis, model) = genesis_with_model(&weights);
    // The genesis file carries the registration as JSON (manifest in hex).
    let genesis = surety_ledger::genesis::Genesis::from_json(&genesis.to_json()).unwrap();
    let root = genesis.models[0].registration.files[0].chunks_root;
    let files = BTreeMap::from([(root, weights.clone())]);

    let ledger = Ledger::from_genesis_with_files(&genesis, &files).expect("genesis applies");
    ledger.check_invariants().expect("genesis invariants");
    let record = models::state::model(ledger.store(), &model).unwrap();
    assert_eq!(
        record.status,
        ModelStatus::Active {
            height: Height::new(0)
        }
    );
    assert_eq!(record.publisher, account(PUBLISHER));
    let direct = mlp::load_mlp("genesis-mlp", &weights, mlp_config()).unwrap();
    assert_eq!(logits(&ledger.model(&model).unwrap()), logits(&direct));
}

#[test]
fn a_genesis_model_without_its_files_is_a_typed_error() {
    let weights = mlp_file(18);
    let (genesis, _) = genesis_with_model(&weights);
    assert!(matches!(
        Ledger::from_genesis(&genesis),
        Err(GenesisError::ModelFileMissing {
            index: 0,
            file: 0,
            ..
        })
    ));
    let root = genesis.models[0].registration.files[0].chunks_root;
    let wrong = BTreeMap::from([(root, mlp_file(19))]);
    assert!(matches!(
        Ledger::from_genesis_with_files(&genesis, &wrong),
        Err(GenesisError::Model { index: 0, .. })
    ));
}

#[test]
fn a_genesis_model_whose_files_do_not_make_its_manifest_is_a_typed_error() {
    let weights = mlp_file(20);
    let other = mlp_file(21);
    let manifest = mlp_manifest("bad-genesis", &weights);
    let publication = publication(&manifest, &other, Lineage::default());
    let mut genesis = genesis(test_params(), &[(1, 1_000_000)], &[(1, 100_000)]);
    genesis.models.push(GenesisModel {
        publisher: account(PUBLISHER),
        registration: publication.register.clone(),
    });
    let files = BTreeMap::from([(publication.register.files[0].chunks_root, other)]);
    assert!(matches!(
        Ledger::from_genesis_with_files(&genesis, &files),
        Err(GenesisError::ModelRejected { .. })
    ));
}

/// The real all-MiniLM-L6-v2 (about 90 MB, ~1900 chunks of 48 KiB) through the registry, when
/// its files are present in `$SURETY_MODELS_DIR` or `<repo>/models`.
#[test]
fn minilm_uploaded_through_transactions_embeds_exactly_as_loaded_directly() {
    let Some(folder) = minilm_folder() else {
        return;
    };
    let read = |name: &str| std::fs::read(folder.join(name)).expect("model file is readable");
    let (weights, config, tokenizer) = (
        read("model.safetensors"),
        read("config.json"),
        read("tokenizer.json"),
    );
    let direct = surety_infer::models::bert::load(
        "all-minilm-l6-v2",
        &weights,
        std::str::from_utf8(&config).unwrap(),
        std::str::from_utf8(&tokenizer).unwrap(),
        true,
    )
    .expect("MiniLM loads");
    let publication = Publication::new(
        direct.manifest(),
        &[
            (FileKind::Safetensors, weights.as_slice()),
            (FileKind::TokenizerJson, tokenizer.as_slice()),
        ],
        Lineage::default(),
        models::msg::MODEL_CHUNK_BYTES_MAX,
    )
    .unwrap();

    let mut params = test_params();
    params.staking.epoch_blocks = 1_000;
    let mut chain = chain_with(params);
    chain.submit_ok(PUBLISHER, register(&publication));
    let uploads: Vec<_> = publication.uploads().collect();
    eprintln!("MiniLM: {} chunks", uploads.len());
    upload_in_blocks(&mut chain, &uploads);
    let record = models::state::model(chain.ledger.store(), &publication.model).unwrap();
    assert!(matches!(record.status, ModelStatus::Active { .. }));
    assert!(record.text);

    let executor = Executor::new(2).unwrap();
    let sentence = "The registry stores every chunk.";
    let (expected, expected_trace) =
        surety_infer::models::bert::embed(&direct, &executor, sentence).unwrap();
    let loaded = chain.ledger.model(&publication.model).unwrap();
    let (embedding, trace) =
        surety_infer::models::bert::embed(&loaded, &executor, sentence).unwrap();
    assert_eq!(
        embedding.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(trace.root(), expected_trace.root());
}

/// Upload chunks in blocks of 500 transactions, all of which must succeed.
fn upload_in_blocks(chain: &mut Chain, uploads: &[UploadModelChunk]) {
    let mut nonce = chain.nonce(UPLOADER);
    for batch in uploads.chunks(500) {
        let txs: Vec<_> = batch
            .iter()
            .map(|chunk| {
                nonce += 1;
                chain.sign_with_nonce(UPLOADER, nonce - 1, upload(chunk.clone()))
            })
            .collect();
        let outcome = chain.block(&txs);
        assert!(outcome.receipts.iter().all(|r| r.is_ok()));
    }
}

/// The real SmolLM2-135M (Q4_1 GGUF, about 98 MB: weights and tokenizer in one file) through
/// the registry, when present.
#[test]
fn smollm_uploaded_as_one_gguf_file_runs_exactly_as_loaded_directly() {
    let Some(folder) = model_folder(
        "smollm2-135m-instruct-q4_1",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ) else {
        return;
    };
    let gguf = std::fs::read(folder.join("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let direct = surety_infer::models::llama::load("smollm2-135m", &gguf).expect("SmolLM loads");
    let publication = Publication::new(
        direct.manifest(),
        &[(FileKind::Gguf, gguf.as_slice())],
        Lineage::default(),
        models::msg::MODEL_CHUNK_BYTES_MAX,
    )
    .unwrap();
    let mut params = test_params();
    params.staking.epoch_blocks = 1_000;
    let mut chain = chain_with(params);
    chain.submit_ok(PUBLISHER, register(&publication));
    let uploads: Vec<_> = publication.uploads().collect();
    upload_in_blocks(&mut chain, &uploads);
    let record = models::state::model(chain.ledger.store(), &publication.model).unwrap();
    assert!(
        matches!(record.status, ModelStatus::Active { .. }),
        "{:?}",
        record.status
    );
    assert!(record.text);

    let loaded = chain.ledger.model(&publication.model).unwrap();
    assert_eq!(loaded.manifest(), direct.manifest());
    let executor = Executor::new(2).unwrap();
    let tokens = direct.tokenizer().unwrap().encode("Hello").unwrap();
    let run = |model: &surety_infer::Model| {
        model
            .run(&executor, surety_infer::models::llama::input(&tokens))
            .unwrap()
            .trace
            .root()
    };
    assert_eq!(run(&loaded), run(&direct));
}

/// MiniLM's folder, or `None` (with a note) when it has not been fetched: CI fetches models for
/// the inference tests only, so this test skips rather than fails without them.
fn minilm_folder() -> Option<std::path::PathBuf> {
    model_folder("all-minilm-l6-v2", "model.safetensors")
}

/// `$SURETY_MODELS_DIR/<name>`, else `<repo>/models/<name>`, if it holds `file`.
fn model_folder(name: &str, file: &str) -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("SURETY_MODELS_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    };
    let folder = dir.join(name);
    if folder.join(file).is_file() {
        Some(folder)
    } else {
        eprintln!(
            "skipping: {} is missing (run scripts/fetch-models or set SURETY_MODELS_DIR)",
            folder.display()
        );
        None
    }
}

mod random_histories {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Action {
        /// Publication `p` registered by `who`.
        Register { p: usize, who: u16 },
        /// Chunk `chunk` (mod the file's count) of publication `p`, or with `None` the first
        /// chunk the chain lacks, uploaded by `who`.
        Upload {
            p: usize,
            chunk: Option<u32>,
            who: u16,
        },
        /// Empty blocks.
        Blocks(u8),
    }

    fn action() -> impl Strategy<Value = Action> {
        let who = prop_oneof![Just(PUBLISHER), Just(UPLOADER)];
        prop_oneof![
            1 => (0..4usize, who.clone()).prop_map(|(p, who)| Action::Register { p, who }),
            8 => (0..4usize, prop::option::weighted(0.25, any::<u32>()), who)
                .prop_map(|(p, chunk, who)| Action::Upload { p, chunk, who }),
            1 => (0..8u8).prop_map(Action::Blocks),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]

        /// Two manifests, each registered honestly or with files that are not its weights
        /// (A: other weights that upload and are rejected; B: a chunks root no bytes meet), in
        /// any order, with uploads, expiries and re-registrations interleaved. Every block
        /// keeps every module's invariant (chunks, expiry index, deposits pool, token supply),
        /// and an id only ever becomes active with its honest files.
        #[test]
        fn registrations_uploads_and_expiries_in_any_order_keep_every_invariant(
            actions in prop::collection::vec(action(), 1..120)
        ) {
            let mut params = test_params();
            params.models.model_upload_blocks = 25;
            let mut chain = chain_with(params);
            let (weights_a, other_a) = (mlp_file(30), mlp_file(31));
            let (weights_b, other_b) = (mlp_file(32), mlp_file(33));
            let (manifest_a, manifest_b) = (mlp_manifest("a", &weights_a), mlp_manifest("b", &weights_b));
            let mut unmeetable = publication(&manifest_b, &other_b, Lineage::default());
            unmeetable.register.files[0].chunks_root = surety_types::Hash([7; 32]);
            let publications = [
                publication(&manifest_a, &weights_a, Lineage::default()),
                publication(&manifest_a, &other_a, Lineage::default()),
                publication(&manifest_b, &weights_b, Lineage::default()),
                unmeetable,
            ];
            for action in actions {
                match action {
                    Action::Register { p, who } => {
                        chain.submit(who, register(&publications[p]));
                    }
                    Action::Upload { p, chunk, who } => {
                        let publication = &publications[p];
                        let missing = models::state::model(chain.ledger.store(), &publication.model)
                            .map(|record| models::state::missing_chunks(chain.ledger.store(), &record, 0, 1))
                            .unwrap_or_default();
                        let index = match chunk {
                            Some(chunk) => chunk % publication.chunk_count(0),
                            None => missing.first().copied().unwrap_or(0),
                        };
                        chain.submit(who, upload(publication.upload(0, index).unwrap()));
                    }
                    Action::Blocks(count) => chain.run_blocks(u64::from(count)),
                }
                for honest in [&publications[0], &publications[2]] {
                    if let Some(record) = models::state::model(chain.ledger.store(), &honest.model) {
                        if matches!(record.status, ModelStatus::Active { .. }) {
                            prop_assert_eq!(&record.files, &honest.register.files);
                        }
                    }
                }
            }
        }
    }
}
