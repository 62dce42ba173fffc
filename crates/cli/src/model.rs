//! `surety model`: publish a model (register its manifest and file commitments, then upload
//! every chunk with its proof), resume an upload, list models, and download a model's files,
//! checked against their registered commitments (docs/models.md).
//!
//! Manifests are built by the inference engine's own loaders from the files, exactly as a
//! node will rebuild them when the last chunk lands, and the files are loaded locally with the
//! ledger's own check before anything is sent, so a registration that would be rejected is
//! caught here.

use crate::{keys, print, rpc, CliError, KeyDir, Node};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use surety_infer::models::{bert, llama, mlp};
use surety_infer::ModelManifest;
use surety_ledger::models::msg::MODEL_CHUNK_BYTES_MAX;
use surety_ledger::models::publish::chunk_tree;
use surety_ledger::models::{
    self, FileKind, Lineage, ModelFile, Publication, RegisterModel, Training,
};
use surety_ledger::tx::Msg;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, ModelId, SigningKey};

/// Most uploads in flight at once: below the node's per-sender mempool limit (256).
const UPLOAD_BATCH_MAX: usize = 200;
/// Longest wait for one batch of transactions to land in blocks.
const BATCH_WAIT_MS_MAX: u64 = 120_000;
/// Largest model file downloaded, in bytes (the chain's own limit is lower by default).
const DOWNLOAD_FILE_BYTES_MAX: u64 = 8 << 30;

#[derive(Subcommand)]
pub enum ModelCommand {
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
pub struct PublishArgs {
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

pub fn run(json: bool, command: &ModelCommand) -> Result<(), CliError> {
    match command {
        ModelCommand::Register(args) => publish(json, args, true),
        ModelCommand::Upload(args) => publish(json, args, false),
        ModelCommand::List(node) => {
            let list = rpc::Client::new(&node.rpc).get("/models")?;
            print(json, &list);
            Ok(())
        }
        ModelCommand::Show { id, node } => {
            let id = parse_model(id)?;
            print(
                json,
                &rpc::Client::new(&node.rpc).get(&format!("/models/{id}"))?,
            );
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

/// Signs and submits transactions for one key, with consecutive nonces.
struct Submitter {
    client: rpc::Client,
    key: SigningKey,
    signer: AccountId,
    chain_id: String,
    fee: Amount,
}

impl Submitter {
    fn new(args: &PublishArgs) -> Result<Submitter, CliError> {
        let key = keys::load(&args.dir.keys, &args.key)?;
        let client = rpc::Client::new(&args.node.rpc);
        let status = client.get("/status")?;
        let chain_id = status["chain_id"]
            .as_str()
            .ok_or_else(|| CliError::Node("node status has no chain id".into()))?
            .to_string();
        Ok(Submitter {
            client,
            signer: AccountId::from_key(&key.verification_key()),
            key,
            chain_id,
            fee: Amount(args.fee),
        })
    }

    fn next_nonce(&self) -> Result<u64, CliError> {
        let account = self.client.get(&format!("/account/{}", self.signer))?;
        account["next_nonce"]
            .as_u64()
            .ok_or_else(|| CliError::Node("node returned no nonce".into()))
    }

    /// Submit `msgs` with consecutive nonces and wait until all are in blocks; returns each
    /// one's error, if it failed.
    fn submit_and_wait(&self, msgs: Vec<Msg>) -> Result<Vec<Option<String>>, CliError> {
        let mut hashes = Vec::with_capacity(msgs.len());
        for (nonce, msg) in (self.next_nonce()?..).zip(msgs) {
            let tx = Tx {
                chain_id: self.chain_id.clone(),
                signer: self.signer,
                nonce,
                fee: self.fee,
                msg,
            }
            .sign(&self.key);
            let body = json!({ "tx": hex::encode(surety_types::encoding::encode(&tx)) });
            let submitted = self.client.post("/tx", &body)?;
            let hash = submitted["hash"]
                .as_str()
                .ok_or_else(|| CliError::Node("node returned no transaction hash".into()))?;
            hashes.push(hash.to_string());
        }
        let started = Instant::now();
        let mut errors = Vec::with_capacity(hashes.len());
        for hash in &hashes {
            loop {
                let answer = self.client.get(&format!("/tx/{hash}"))?;
                if answer["status"] == "committed" {
                    errors.push(answer["receipt"]["error"].as_str().map(str::to_string));
                    break;
                }
                if started.elapsed() > Duration::from_millis(BATCH_WAIT_MS_MAX) {
                    return Err(CliError::Node(format!(
                        "transaction {hash} not in a block after {BATCH_WAIT_MS_MAX} ms"
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(errors)
    }
}

fn model_status(client: &rpc::Client, id: &ModelId) -> Result<Option<Value>, CliError> {
    match client.get(&format!("/models/{id}")) {
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
    let errors = submitter.submit_and_wait(vec![Msg::RegisterModel(Box::new(
        publication.register.clone(),
    ))])?;
    if let Some(error) = errors.into_iter().flatten().next() {
        return Err(CliError::Node(format!("registration failed: {error}")));
    }
    let status = model_status(&submitter.client, &id)?
        .map(|record| record["status"].clone())
        .unwrap_or_default();
    progress(
        json,
        json!({
            "model": id,
            "registered": true,
            "chunks": publication.chunks_total(),
            "deposit": status["deposit"],
            "upload_by_height": status["expires"],
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
    let id = publication.model;
    let submitter = Submitter::new(args)?;
    let existing = model_status(&submitter.client, &id)?;
    // A rejected or expired id may be registered again (with a fresh deposit).
    let failed = existing.as_ref().and_then(|record| {
        let state = record["status"]["state"].as_str()?;
        matches!(state, "rejected" | "expired").then(|| state.to_string())
    });
    match existing {
        None if register => register_model(json, &submitter, &publication)?,
        Some(_) if register && failed.is_some() => register_model(json, &submitter, &publication)?,
        None => {
            return Err(CliError::Input(format!(
                "model {id} is not registered: use `surety model register`"
            )))
        }
        Some(_) if failed.is_some() => {
            return Err(CliError::Input(format!(
                "model {id} is {}: use `surety model register` to register it again",
                failed.unwrap_or_default()
            )))
        }
        Some(record) => {
            let status = &record["status"];
            if status["state"] == "uploading" {
                // Someone else's registration of this manifest, with other file commitments:
                // our chunks cannot match them.
                let theirs: Vec<ModelFile> = serde_json::from_value(record["files"].clone())
                    .map_err(|e| CliError::Node(format!("model {id}: files: {e}")))?;
                if theirs != publication.register.files {
                    return Err(CliError::Input(format!(
                        "model {id} is being uploaded by {} with other file commitments; \
                         your files cannot complete it. If it does not finish, it expires at \
                         height {} and can then be registered again",
                        record["publisher"], status["expires"]
                    )));
                }
                // Resuming: say how long the upload has before it expires.
                let height = submitter.client.get("/status")?["height"].clone();
                progress(
                    json,
                    json!({
                        "model": id,
                        "registered": "already; resuming the upload",
                        "chunks_stored": status["chunks_stored"],
                        "upload_by_height": status["expires"],
                        "height": height,
                    }),
                );
            } else if register {
                progress(json, json!({ "model": id, "registered": "already" }));
            }
        }
    }
    let total = publication.chunks_total();
    for file in 0..publication.register.files.len() as u32 {
        loop {
            let answer = submitter.client.get(&format!(
                "/models/{id}/files/{file}/missing?limit={}",
                args.batch
            ))?;
            if answer["status"]["state"] != "uploading" {
                break;
            }
            let missing: Vec<u32> = serde_json::from_value(answer["missing"].clone())
                .map_err(|e| CliError::Node(format!("missing chunks: {e}")))?;
            if missing.is_empty() {
                break;
            }
            let msgs = missing
                .iter()
                .filter_map(|&index| publication.upload(file, index))
                .map(|chunk| Msg::UploadModelChunk(Box::new(chunk)))
                .collect();
            let errors = submitter.submit_and_wait(msgs)?;
            // Someone else may upload the same chunk first; anything else is a real failure.
            if let Some(error) = errors
                .into_iter()
                .flatten()
                .find(|e| !e.contains("is already stored") && !e.contains("not accepting uploads"))
            {
                return Err(CliError::Node(format!("an upload failed: {error}")));
            }
            let stored = match model_status(&submitter.client, &id)? {
                Some(record) => record["status"]["chunks_stored"].as_u64().unwrap_or(total),
                None => 0,
            };
            progress(
                json,
                json!({ "model": id, "file": file, "chunks_stored": stored, "chunks_total": total }),
            );
        }
    }
    let record = model_status(&submitter.client, &id)?
        .ok_or_else(|| CliError::Node(format!("model {id} disappeared")))?;
    print(
        json,
        &json!({ "model": id, "name": manifest.name, "status": record["status"] }),
    );
    match record["status"]["state"].as_str() {
        Some("active") => Ok(()),
        Some("rejected") => Err(CliError::Node(format!(
            "the chain rejected model {id}: {}",
            record["status"]["reason"]
        ))),
        Some("expired") => Err(CliError::Node(format!(
            "the upload of model {id} expired at height {} before its last chunk landed",
            record["status"]["height"]
        ))),
        _ => Err(CliError::Node(format!(
            "model {id} is still uploading; run `surety model upload` to resume"
        ))),
    }
}

/// File names in the download directory.
pub fn file_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Safetensors => "model.safetensors",
        FileKind::Gguf => "model.gguf",
        FileKind::TokenizerJson => "tokenizer.json",
    }
}

/// A model's manifest and file commitments from `GET /models/{id}`, the manifest checked to
/// hash to `id` and the registration's shape checked.
pub fn registration(
    client: &rpc::Client,
    id: &ModelId,
) -> Result<(ModelManifest, Vec<ModelFile>), CliError> {
    let record = client.get(&format!("/models/{id}"))?;
    if record["status"]["state"] != "active" {
        return Err(CliError::Node(format!(
            "model {id} is not active: {}",
            record["status"]
        )));
    }
    let manifest_bytes = hex::decode(record["manifest"]["bytes"].as_str().unwrap_or_default())
        .map_err(|e| CliError::Node(format!("manifest bytes: {e}")))?;
    let manifest = models::decode_manifest(&manifest_bytes)
        .map_err(|e| CliError::Node(format!("manifest: {e}")))?;
    if manifest.model_id() != *id {
        return Err(CliError::Node(format!(
            "the node's manifest hashes to {}, not {id}",
            manifest.model_id()
        )));
    }
    let commitments: Vec<ModelFile> = serde_json::from_value(record["files"].clone())
        .map_err(|e| CliError::Node(format!("file commitments: {e}")))?;
    let registration = RegisterModel {
        manifest: manifest_bytes,
        files: commitments.clone(),
        lineage: Lineage::default(),
    };
    models::check_register_shape(&registration).map_err(|e| CliError::Node(e.to_string()))?;
    Ok((manifest, commitments))
}

/// `bytes` is the file `commitment` names: its length and its chunks' Merkle root.
pub fn check_file(file: usize, commitment: &ModelFile, bytes: &[u8]) -> Result<(), CliError> {
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
pub fn download_files(
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
