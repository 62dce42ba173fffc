//! `surety model`: publish a model (register its manifest and file commitments, then upload
//! every chunk with its proof), resume an upload, list models, and download a model's files,
//! checked against their registered commitments (docs/models.md).
//!
//! Manifests are built by the inference engine's own loaders from the files, exactly as a
//! node will rebuild them when the last chunk lands, and the files are loaded locally with the
//! ledger's own check before anything is sent, so a registration that would be rejected is
//! caught here.

use crate::submit::Submitter;
use crate::{print, rpc, CliError, KeyDir, Node};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use surety_infer::models::{bert, llama, mlp};
use surety_infer::ModelManifest;
use surety_ledger::models::msg::MODEL_CHUNK_BYTES_MAX;
use surety_ledger::models::publish::chunk_tree;
use surety_ledger::models::{
    self, FileKind, Lineage, ModelFile, ModelStatus, Publication, RegisterModel, Training,
};
use surety_ledger::tx::Msg;
use surety_node::api::ModelView;
use surety_types::ModelId;

/// Most uploads in flight at once: below the node's per-sender mempool limit (256).
const UPLOAD_BATCH_MAX: usize = 200;
/// Longest wait for one batch of transactions to land in blocks.
const BATCH_WAIT_MS_MAX: u64 = 120_000;
/// Largest model file downloaded, in bytes (the chain's own limit is lower by default).
const DOWNLOAD_FILE_BYTES_MAX: u64 = 8 << 30;

#[derive(Subcommand)]
pub(crate) enum ModelCommand {
    /// Register a model and upload all its chunks.
    Register(PublishArgs),
    /// Upload the chunks of a registered model that the chain does not have yet (resume).
    Upload(PublishArgs),
    /// List registered models.
    List(Node),
    /// Show one model's record and manifest.
    Show {
        id: String,
        #[command(flatten)]
        node: Node,
    },
    /// Download a model's files, checking every chunk against its registered commitment.
    Download {
        id: String,
        /// Directory to write the files to.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        node: Node,
    },
}

#[derive(Args)]
pub(crate) struct PublishArgs {
    /// The model's name (part of its manifest, so of its id).
    #[arg(long)]
    name: String,
    /// Weights in safetensors (BERT with --config, or an MLP with --mlp).
    #[arg(long, conflicts_with = "gguf")]
    safetensors: Option<PathBuf>,
    /// A BERT model's Hugging Face config.json.
    #[arg(long, requires = "safetensors", conflicts_with = "mlp")]
    config: Option<PathBuf>,
    /// An MLP's layer widths, input first, e.g. 784,128,10.
    #[arg(long, requires = "safetensors", value_delimiter = ',')]
    mlp: Option<Vec<u64>>,
    /// A Hugging Face tokenizer.json (BERT).
    #[arg(long, requires = "safetensors")]
    tokenizer: Option<PathBuf>,
    /// Do not L2-normalise BERT embeddings (sentence-transformers models normalise).
    #[arg(long)]
    no_normalize: bool,
    /// A Llama-architecture GGUF file (weights and tokenizer).
    #[arg(long)]
    gguf: Option<PathBuf>,
    /// The model this one was derived from.
    #[arg(long)]
    parent: Option<String>,
    /// How it was derived (dataset, recipe, quantisation), if off-chain.
    #[arg(long)]
    training: Option<String>,
    /// Bytes per chunk (one chunk per transaction).
    #[arg(long, default_value_t = MODEL_CHUNK_BYTES_MAX)]
    chunk_bytes: u32,
    /// Uploads submitted before waiting for them to land.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Name of the signing key.
    #[arg(long)]
    key: String,
    /// Fee per transaction, in base units.
    #[arg(long, default_value_t = 1_000)]
    fee: u128,
    #[command(flatten)]
    dir: KeyDir,
    #[command(flatten)]
    node: Node,
}

pub(crate) fn run(json: bool, command: &ModelCommand) -> Result<(), CliError> {
    match command {
        ModelCommand::Register(args) => publish(json, args, true),
        ModelCommand::Upload(args) => publish(json, args, false),
        ModelCommand::List(node) => {
            print(json, &rpc::Client::new(&node.rpc).models()?);
            Ok(())
        }
        ModelCommand::Show { id, node } => {
            let id = parse_model(id)?;
            print(json, &rpc::Client::new(&node.rpc).model(&id)?);
            Ok(())
        }
        ModelCommand::Download { id, out, node } => download(json, id, out, node),
    }
}

fn parse_model(text: &str) -> Result<ModelId, CliError> {
    ModelId::from_hex(text).map_err(|e| CliError::Input(format!("model id {text:?}: {e}")))
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Input(format!("{}: {e}", path.display())))
}

fn utf8(path: &Path, bytes: &[u8]) -> Result<String, CliError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| CliError::Input(format!("{} is not UTF-8", path.display())))
}

/// A model's files, in registration order.
type Files = Vec<(FileKind, Vec<u8>)>;

/// The manifest, built by the engine's loaders from the files, and the files to publish.
fn manifest_and_files(args: &PublishArgs) -> Result<(ModelManifest, Files), CliError> {
    let load =
        |e: surety_infer::InferError| CliError::Input(format!("the model does not load: {e}"));
    if let Some(path) = &args.gguf {
        let bytes = read(path)?;
        let model = llama::load(&args.name, &bytes).map_err(load)?;
        return Ok((model.manifest().clone(), vec![(FileKind::Gguf, bytes)]));
    }
    let Some(path) = &args.safetensors else {
        return Err(CliError::Input("give --safetensors or --gguf".into()));
    };
    let weights = read(path)?;
    let tokenizer = args
        .tokenizer
        .as_ref()
        .map(|p| read(p).map(|b| (p, b)))
        .transpose()?;
    let model = match (&args.config, &args.mlp) {
        (Some(config_path), None) => {
            let config = utf8(config_path, &read(config_path)?)?;
            let store =
                surety_infer::safetensors_loader::load_safetensors(&weights).map_err(load)?;
            let bert_config = bert::BertConfig::from_hf_json(&config, &store, !args.no_normalize)
                .map_err(load)?;
            let tokenizer = match &tokenizer {
                Some((path, bytes)) => Some(
                    surety_infer::tokenizer::TextTokenizer::from_json(&utf8(path, bytes)?)
                        .map_err(load)?,
                ),
                None => None,
            };
            surety_infer::Model::new(
                &args.name,
                surety_infer::Architecture::Bert(bert_config),
                store,
                tokenizer,
            )
            .map_err(load)?
        }
        (None, Some(widths)) => {
            if tokenizer.is_some() {
                return Err(CliError::Input("an MLP takes no tokenizer".into()));
            }
            mlp::load_mlp(
                &args.name,
                &weights,
                mlp::MlpConfig {
                    widths: widths.clone(),
                },
            )
            .map_err(load)?
        }
        _ => {
            return Err(CliError::Input(
                "--safetensors needs --config (a BERT config.json) or --mlp (MLP widths)".into(),
            ))
        }
    };
    let mut files = vec![(FileKind::Safetensors, weights)];
    if let Some((_, bytes)) = tokenizer {
        files.push((FileKind::TokenizerJson, bytes));
    }
    Ok((model.manifest().clone(), files))
}

fn lineage(args: &PublishArgs) -> Result<Lineage, CliError> {
    Ok(Lineage {
        parent: args.parent.as_deref().map(parse_model).transpose()?,
        training: match &args.training {
            Some(description) => Training::OffChain {
                description: description.clone(),
            },
            None => Training::Published,
        },
    })
}

/// Submit `msgs` with consecutive nonces and wait until all are in blocks; returns each
/// one's error, if it failed.
fn submit_and_wait(submitter: &Submitter, msgs: Vec<Msg>) -> Result<Vec<Option<String>>, CliError> {
    let hashes = submitter.submit_all(msgs)?;
    let started = Instant::now();
    let mut errors = Vec::with_capacity(hashes.len());
    for hash in &hashes {
        let Some(landed) = submitter.landed(hash, started, BATCH_WAIT_MS_MAX)? else {
            return Err(CliError::Node(format!(
                "transaction {hash} not in a block after {BATCH_WAIT_MS_MAX} ms"
            )));
        };
        errors.push(landed.receipt.error);
    }
    Ok(errors)
}

fn model_status(client: &rpc::Client, id: &ModelId) -> Result<Option<ModelView>, CliError> {
    match client.model(id) {
        Ok(record) => Ok(Some(record)),
        Err(rpc::RpcError::Refused { status: 404, .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn progress(json: bool, value: Value) {
    if json {
        println!("{value}");
    } else {
        eprintln!("{}", crate::human(&value, 0).replace('\n', ", "));
    }
}

/// Send the registration (escrowing the deposit) and report the deposit and the height by
/// which the upload must finish.
fn register_model(
    json: bool,
    submitter: &Submitter,
    publication: &Publication,
) -> Result<(), CliError> {
    let id = publication.model;
    let errors = submit_and_wait(
        submitter,
        vec![Msg::RegisterModel(Box::new(publication.register.clone()))],
    )?;
    if let Some(error) = errors.into_iter().flatten().next() {
        return Err(CliError::Node(format!("registration failed: {error}")));
    }
    let (deposit, expires) = match model_status(&submitter.client, &id)?.map(|r| r.summary.status) {
        Some(ModelStatus::Uploading {
            deposit, expires, ..
        }) => (json!(deposit), json!(expires)),
        _ => (Value::Null, Value::Null),
    };
    progress(
        json,
        json!({
            "model": id,
            "registered": true,
            "chunks": publication.chunks_total(),
            "deposit": deposit,
            "upload_by_height": expires,
        }),
    );
    Ok(())
}

fn publish(json: bool, args: &PublishArgs, register: bool) -> Result<(), CliError> {
    if args.batch == 0 || args.batch > UPLOAD_BATCH_MAX {
        return Err(CliError::Input(format!(
            "--batch must be 1..={UPLOAD_BATCH_MAX}"
        )));
    }
    let (manifest, contents) = manifest_and_files(args)?;
    let files: Vec<(FileKind, &[u8])> = contents.iter().map(|(k, b)| (*k, b.as_slice())).collect();
    // The ledger's own activation check, before anything is sent.
    models::build_model(&manifest, &files).map_err(CliError::Input)?;
    let publication = Publication::new(&manifest, &files, lineage(args)?, args.chunk_bytes)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let submitter = Submitter::new(&args.node.rpc, &args.dir.keys, &args.key, args.fee)?;
    prepare(json, &submitter, &publication, register)?;
    upload_missing(json, &submitter, &publication, args.batch)?;
    finish(json, &submitter, &publication.model, &manifest.name)
}

/// The state an ended upload left its id in, if it failed.
fn failed_state(status: &ModelStatus) -> Option<&'static str> {
    match status {
        ModelStatus::Rejected { .. } => Some("rejected"),
        ModelStatus::Expired { .. } => Some("expired"),
        ModelStatus::Uploading { .. } | ModelStatus::Active { .. } => None,
    }
}

/// Register the model (`register`), or check that its registration can take our chunks.
fn prepare(
    json: bool,
    submitter: &Submitter,
    publication: &Publication,
    register: bool,
) -> Result<(), CliError> {
    let id = publication.model;
    let existing = model_status(&submitter.client, &id)?;
    // A rejected or expired id may be registered again (with a fresh deposit).
    let failed = existing
        .as_ref()
        .and_then(|record| failed_state(&record.summary.status));
    match existing {
        None if register => register_model(json, submitter, publication),
        Some(_) if register && failed.is_some() => register_model(json, submitter, publication),
        None => Err(CliError::Input(format!(
            "model {id} is not registered: use `surety model register`"
        ))),
        Some(_) if failed.is_some() => Err(CliError::Input(format!(
            "model {id} is {}: use `surety model register` to register it again",
            failed.unwrap_or_default()
        ))),
        Some(record) => resume(json, submitter, publication, &record, register),
    }
}

/// An existing registration: resume its upload if it is ours to complete.
fn resume(
    json: bool,
    submitter: &Submitter,
    publication: &Publication,
    record: &ModelView,
    register: bool,
) -> Result<(), CliError> {
    let id = publication.model;
    let ModelStatus::Uploading {
        chunks_stored,
        expires,
        ..
    } = &record.summary.status
    else {
        if register {
            progress(json, json!({ "model": id, "registered": "already" }));
        }
        return Ok(());
    };
    // Someone else's registration of this manifest, with other file commitments: our chunks
    // cannot match them.
    if record.summary.files != publication.register.files {
        return Err(CliError::Input(format!(
            "model {id} is being uploaded by {} with other file commitments; \
             your files cannot complete it. If it does not finish, it expires at \
             height {expires} and can then be registered again",
            json!(record.summary.publisher)
        )));
    }
    // Resuming: say how long the upload has before it expires.
    let height = submitter.client.status()?.height;
    progress(
        json,
        json!({
            "model": id,
            "registered": "already; resuming the upload",
            "chunks_stored": chunks_stored,
            "upload_by_height": expires,
            "height": height,
        }),
    );
    Ok(())
}

/// Upload every chunk the chain does not have yet, `batch` at a time, file by file.
fn upload_missing(
    json: bool,
    submitter: &Submitter,
    publication: &Publication,
    batch: usize,
) -> Result<(), CliError> {
    let id = publication.model;
    let total = publication.chunks_total();
    for file in 0..publication.register.files.len() as u32 {
        loop {
            let answer = submitter.client.missing_chunks(&id, file, batch)?;
            if !matches!(answer.status, ModelStatus::Uploading { .. }) || answer.missing.is_empty()
            {
                break;
            }
            let msgs = answer
                .missing
                .iter()
                .filter_map(|&index| publication.upload(file, index))
                .map(|chunk| Msg::UploadModelChunk(Box::new(chunk)))
                .collect();
            let errors = submit_and_wait(submitter, msgs)?;
            // Someone else may upload the same chunk first; anything else is a real failure.
            if let Some(error) = errors
                .into_iter()
                .flatten()
                .find(|e| !e.contains("is already stored") && !e.contains("not accepting uploads"))
            {
                return Err(CliError::Node(format!("an upload failed: {error}")));
            }
            let stored = match model_status(&submitter.client, &id)? {
                Some(record) => match record.summary.status {
                    ModelStatus::Uploading { chunks_stored, .. } => chunks_stored,
                    _ => total,
                },
                None => 0,
            };
            progress(
                json,
                json!({ "model": id, "file": file, "chunks_stored": stored, "chunks_total": total }),
            );
        }
    }
    Ok(())
}

/// Print where the upload ended: active, or why not.
fn finish(json: bool, submitter: &Submitter, id: &ModelId, name: &str) -> Result<(), CliError> {
    let record = model_status(&submitter.client, id)?
        .ok_or_else(|| CliError::Node(format!("model {id} disappeared")))?;
    let status = record.summary.status;
    print(
        json,
        &json!({ "model": id, "name": name, "status": status }),
    );
    match status {
        ModelStatus::Active { .. } => Ok(()),
        ModelStatus::Rejected { reason } => Err(CliError::Node(format!(
            "the chain rejected model {id}: {}",
            json!(reason)
        ))),
        ModelStatus::Expired { height } => Err(CliError::Node(format!(
            "the upload of model {id} expired at height {height} before its last chunk landed"
        ))),
        ModelStatus::Uploading { .. } => Err(CliError::Node(format!(
            "model {id} is still uploading; run `surety model upload` to resume"
        ))),
    }
}

/// File names in the download directory.
pub(crate) fn file_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Safetensors => "model.safetensors",
        FileKind::Gguf => "model.gguf",
        FileKind::TokenizerJson => "tokenizer.json",
    }
}

/// A model's manifest and file commitments from `GET /models/{id}`, the manifest checked to
/// hash to `id` and the registration's shape checked.
pub(crate) fn registration(
    client: &rpc::Client,
    id: &ModelId,
) -> Result<(ModelManifest, Vec<ModelFile>), CliError> {
    let record = client.model(id)?;
    if !matches!(record.summary.status, ModelStatus::Active { .. }) {
        return Err(CliError::Node(format!(
            "model {id} is not active: {}",
            json!(record.summary.status)
        )));
    }
    let manifest_bytes = hex::decode(&record.manifest.bytes)
        .map_err(|e| CliError::Node(format!("manifest bytes: {e}")))?;
    let manifest = models::decode_manifest(&manifest_bytes)
        .map_err(|e| CliError::Node(format!("manifest: {e}")))?;
    if manifest.model_id() != *id {
        return Err(CliError::Node(format!(
            "the node's manifest hashes to {}, not {id}",
            manifest.model_id()
        )));
    }
    let commitments = record.summary.files;
    let registration = RegisterModel {
        manifest: manifest_bytes,
        files: commitments.clone(),
        lineage: Lineage::default(),
    };
    models::check_register_shape(&registration).map_err(|e| CliError::Node(e.to_string()))?;
    Ok((manifest, commitments))
}

/// `bytes` is the file `commitment` names: its length and its chunks' Merkle root.
pub(crate) fn check_file(
    file: usize,
    commitment: &ModelFile,
    bytes: &[u8],
) -> Result<(), CliError> {
    // Every chunk's hash is a leaf of the tree; the root matching means every chunk does.
    if bytes.len() as u64 != commitment.bytes
        || chunk_tree(bytes, commitment.chunk_bytes).root() != commitment.chunks_root
    {
        return Err(CliError::Node(format!(
            "file {file} does not match its registered chunks root {}",
            commitment.chunks_root
        )));
    }
    Ok(())
}

/// Download every file of model `id`, each checked against its commitment.
pub(crate) fn download_files(
    client: &rpc::Client,
    id: &ModelId,
    commitments: &[ModelFile],
) -> Result<Vec<Vec<u8>>, CliError> {
    let mut contents = Vec::with_capacity(commitments.len());
    for (file, commitment) in commitments.iter().enumerate() {
        if commitment.bytes > DOWNLOAD_FILE_BYTES_MAX {
            return Err(CliError::Node(format!(
                "file {file} is too large to download"
            )));
        }
        let bytes = client.get_bytes(&format!("/models/{id}/files/{file}"), commitment.bytes)?;
        check_file(file, commitment, &bytes)?;
        contents.push(bytes);
    }
    Ok(contents)
}

fn download(json: bool, id: &str, out: &Path, node: &Node) -> Result<(), CliError> {
    let id = parse_model(id)?;
    let client = rpc::Client::new(&node.rpc);
    let (manifest, commitments) = registration(&client, &id)?;
    let contents = download_files(&client, &id, &commitments)?;
    let files: Vec<(FileKind, &[u8])> = commitments
        .iter()
        .zip(&contents)
        .map(|(c, b)| (c.kind, b.as_slice()))
        .collect();
    models::build_model(&manifest, &files).map_err(CliError::Node)?;
    std::fs::create_dir_all(out).map_err(|e| CliError::Input(format!("{}: {e}", out.display())))?;
    let mut written = Vec::new();
    for (commitment, bytes) in commitments.iter().zip(&contents) {
        let path = out.join(file_name(commitment.kind));
        std::fs::write(&path, bytes)
            .map_err(|e| CliError::Input(format!("{}: {e}", path.display())))?;
        written.push(json!({ "path": path.display().to_string(), "bytes": bytes.len(), "kind": commitment.kind }));
    }
    print(
        json,
        &json!({ "model": id, "name": manifest.name, "files": written }),
    );
    Ok(())
}
