//! Writes the seed corpus, `fuzz/corpus/<target>/seed-*`: a few valid encodings of what each
//! decoder reads, built with the crates' own encoders, so the fuzzer starts past the first
//! length prefix. Run by `scripts/fuzz --seeds`; the output is committed.

// Built by cargo-fuzz like the targets, so its code calls the coverage hooks libFuzzer defines:
// link libFuzzer in (its `main` stays unused, this file has its own).
use libfuzzer_sys as _;
use std::path::{Path, PathBuf};
use surety_fuzz::CHAIN_ID;
use surety_infer::gguf::{write_gguf, MetaValue};
use surety_infer::safetensors_loader::save_safetensors_f32;
use surety_infer::{Activation, StorageType, Tensor};
use surety_ledger::bank::Transfer;
use surety_ledger::tx::{Msg, Transaction};
use surety_types::encoding::encode;
use surety_types::tx::Tx;
use surety_types::{AccountId, Amount, SigningKey};

fn write(root: &Path, target: &str, name: &str, bytes: &[u8]) {
    let folder = root.join(target);
    std::fs::create_dir_all(&folder).expect("corpus folder");
    std::fs::write(folder.join(format!("seed-{name}")), bytes).expect("seed file");
}

fn transfer(key: &SigningKey, nonce: u64, msg: Msg) -> Transaction {
    Tx {
        chain_id: CHAIN_ID.to_string(),
        signer: AccountId::from_key(&key.verification_key()),
        nonce,
        fee: Amount::new(1_000),
        msg,
    }
    .sign(key)
}

fn transactions() -> Vec<(&'static str, Transaction)> {
    let key = SigningKey::from_seed([7; 32]);
    let other = AccountId::from_key(&SigningKey::from_seed([8; 32]).verification_key());
    vec![
        (
            "transfer",
            transfer(
                &key,
                0,
                Msg::Transfer(Transfer {
                    to: other,
                    amount: Amount::new(5),
                }),
            ),
        ),
        ("withdraw", transfer(&key, 1, Msg::WithdrawUnbonded)),
        ("unjail", transfer(&key, 2, Msg::Unjail)),
    ]
}

fn activations() -> Vec<(&'static str, Activation)> {
    let mut small = Activation::new();
    small.set(
        "x",
        Tensor::f32(vec![2, 3], vec![1.0, -2.0, 0.5, 0.0, 3.25, -0.0]),
    );
    small.set("ids", Tensor::u32(vec![3], vec![1, 2, 3]));
    vec![("empty", Activation::new()), ("two-slots", small)]
}

fn gguf_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut q8 = vec![0u8; 34];
    q8[0..2].copy_from_slice(&0x3c00u16.to_le_bytes());
    q8[2] = 0xfe;
    let f32_bytes: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let tiny = write_gguf(
        &[
            ("general.architecture", MetaValue::String("llama".into())),
            ("llama.block_count", MetaValue::Int(2)),
            ("rope.freq_base", MetaValue::Float(10_000.0)),
            ("tokenizer.add_bos", MetaValue::Bool(true)),
            (
                "tokens",
                MetaValue::Array(vec![
                    MetaValue::String("a".into()),
                    MetaValue::String("b".into()),
                ]),
            ),
        ],
        &[
            ("w", vec![2, 3], StorageType::F32, f32_bytes),
            ("q", vec![1, 32], StorageType::Q8_0, q8),
        ],
    );
    vec![("tiny", tiny), ("empty", write_gguf(&[], &[]))]
}

fn safetensors_files() -> Vec<(&'static str, Vec<u8>)> {
    let tiny = save_safetensors_f32(&[
        ("embed", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]),
        ("norm", vec![2], vec![0.5, -0.5]),
    ])
    .expect("safetensors seed");
    vec![("tiny", tiny)]
}

const TOKENIZER_WORD_LEVEL: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"[UNK]":0,"hello":1,"world":2,",":3},"unk_token":"[UNK]"}}"#;

const TOKENIZER_BPE: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},"post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},"model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{"H":0,"e":1,"l":2,"o":3,"He":4,"ll":5,"Hell":6,"Hello":7},"merges":["H e","l l","He ll","Hell o"]}}"#;

const GENESIS_JSON: &str = r#"{
  "chain_id": "surety-fuzz",
  "genesis_time_ms": 1700000000000,
  "accounts": []
}"#;

const GENESIS_TOML: &str = r#"chain_id = "surety-fuzz"
genesis_time_ms = 1700000000000
accounts = []
operators = []
"#;

#[cfg(feature = "node")]
mod node {
    use super::*;
    use bytes::Bytes;
    use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
    use malachitebft_app_channel::app::types::codec::Codec;
    use malachitebft_app_channel::app::types::core::{
        ExtendedCommitCertificate, ExtendedCommitSignature, Round,
    };
    use malachitebft_app_channel::app::types::sync::{RawDecidedValue, Response};
    use malachitebft_sync::ValueResponse;
    use surety_node::block::{genesis_seed, Block, BlockHeader, CommitCertificate, SeedDraw};
    use surety_node::consensus::codec::SuretyCodec;
    use surety_node::consensus::ctx::{Address, BHeight, BlockId, ProposalPart, Sig, SuretyCtx};
    use surety_types::{Hash, Height, OperatorId};

    pub(super) fn blocks() -> Vec<(&'static str, Block)> {
        let key = SigningKey::from_seed([9; 32]);
        let proposer = OperatorId::from(AccountId::from_key(&key.verification_key()));
        let txs: Vec<Vec<u8>> = transactions().iter().map(|(_, tx)| encode(tx)).collect();
        let first_draw = SeedDraw::prove(&key, CHAIN_ID, Height::new(1), &genesis_seed(CHAIN_ID));
        let second_draw = SeedDraw::prove(&key, CHAIN_ID, Height::new(2), &first_draw.seed);
        let first = Block {
            header: BlockHeader {
                chain_id: CHAIN_ID.to_string(),
                height: Height::new(1),
                timestamp_ms: 1_700_000_000_000,
                proposer,
                seed: first_draw.seed,
                seed_proof: first_draw.proof,
                absent_validators: None,
                previous_hash: Hash([0; 32]),
                previous_state_root: Hash([1; 32]),
                tx_root: Block::tx_root(&txs),
                last_commit: None,
            },
            txs,
        };
        let last_commit = CommitCertificate::sign(CHAIN_ID, &first, 0, &[key]);
        let second = Block {
            header: BlockHeader {
                height: Height::new(2),
                seed: second_draw.seed,
                seed_proof: second_draw.proof,
                absent_validators: Some(vec![]),
                previous_hash: first.hash(),
                tx_root: Block::tx_root(&[]),
                last_commit: Some(last_commit),
                ..first.header.clone()
            },
            txs: vec![],
        };
        vec![("height-1", first), ("height-2", second)]
    }

    fn parts() -> Vec<ProposalPart> {
        let key = SigningKey::from_seed([5; 32]);
        vec![
            ProposalPart::Init {
                height: BHeight(7),
                round: Round::new(1),
                pol_round: Round::Nil,
                proposer: Address(key.verification_key()),
            },
            ProposalPart::Data(encode(&blocks()[0].1)),
            ProposalPart::Fin {
                block_id: BlockId(Hash::of("fuzz", b"block")),
                signature: Sig::from(key.sign(b"proposal")),
            },
        ]
    }

    pub(super) fn proposal_parts() -> Vec<(String, Vec<u8>)> {
        let mut seeds = Vec::new();
        for (index, part) in parts().into_iter().enumerate() {
            let bare = Codec::<ProposalPart>::encode(&SuretyCodec, &part).expect("encodes");
            seeds.push((format!("part-{index}"), bare.to_vec()));
            let message = StreamMessage::new(
                StreamId::new(Bytes::from_static(b"stream-1")),
                index as u64,
                StreamContent::Data(part),
            );
            let streamed = Codec::<StreamMessage<ProposalPart>>::encode(&SuretyCodec, &message)
                .expect("encodes");
            seeds.push((format!("stream-{index}"), streamed.to_vec()));
        }
        let fin: StreamMessage<ProposalPart> = StreamMessage::new(
            StreamId::new(Bytes::from_static(b"stream-1")),
            3,
            StreamContent::Fin,
        );
        let fin = Codec::<StreamMessage<ProposalPart>>::encode(&SuretyCodec, &fin).expect("fin");
        seeds.push(("stream-fin".to_string(), fin.to_vec()));
        seeds
    }

    pub(super) fn sync_responses() -> Vec<(&'static str, Vec<u8>)> {
        let key = SigningKey::from_seed([5; 32]);
        let block = encode(&blocks()[1].1);
        let decided = RawDecidedValue {
            value_bytes: Bytes::from(block),
            certificate: ExtendedCommitCertificate {
                height: BHeight(2),
                round: Round::new(0),
                value_id: BlockId(Hash::of("fuzz", b"value")),
                commit_signatures: vec![ExtendedCommitSignature::new(
                    Address(key.verification_key()),
                    Sig::from(key.sign(b"precommit")),
                    None,
                )],
            },
        };
        let response: Response<SuretyCtx> =
            Response::ValueResponse(ValueResponse::new(BHeight(2), vec![decided]));
        let empty: Response<SuretyCtx> =
            Response::ValueResponse(ValueResponse::new(BHeight(5), vec![]));
        let encode_response = |r: &Response<SuretyCtx>| {
            Codec::<Response<SuretyCtx>>::encode(&SuretyCodec, r)
                .expect("encodes")
                .to_vec()
        };
        vec![
            ("one-value", encode_response(&response)),
            ("empty", encode_response(&empty)),
        ]
    }

    pub(super) fn rpc_bodies() -> Vec<(&'static str, String)> {
        let tx = hex::encode(encode(&transactions()[0].1));
        vec![
            ("submit", format!(r#"{{"tx":"{tx}"}}"#)),
            ("gossip", format!(r#"{{"txs":["{tx}","00"]}}"#)),
            ("answer", r#"{"admitted":1,"received":2}"#.to_string()),
            ("error", r#"{"error":"bad transaction"}"#.to_string()),
        ]
    }
}

/// A genesis with every section the fuzzer should mutate: the default parameters in full, an
/// account, an operator and a delegation.
fn genesis_json() -> String {
    use surety_ledger::genesis::{Genesis, GenesisAccount, GenesisDelegation, GenesisOperator};
    use surety_types::{OperatorId, Ratio};
    let operator_key = SigningKey::from_seed([7; 32]);
    let operator = AccountId::from_key(&operator_key.verification_key());
    let delegator = AccountId::from_key(&SigningKey::from_seed([8; 32]).verification_key());
    let genesis = Genesis {
        chain_id: CHAIN_ID.to_string(),
        genesis_time_ms: 1_700_000_000_000,
        params: Default::default(),
        accounts: vec![
            GenesisAccount {
                account: operator,
                balance: Amount::new(10_000_000_000),
            },
            GenesisAccount {
                account: delegator,
                balance: Amount::new(5_000_000_000),
            },
        ],
        operators: vec![GenesisOperator {
            account: operator,
            consensus_key: operator_key.verification_key(),
            commission: Ratio::from_percent(5).expect("5%"),
            max_commission_change: Ratio::from_percent(1).expect("1%"),
            metadata: Default::default(),
            self_bond: Amount::new(1_000_000_000),
        }],
        delegations: vec![GenesisDelegation {
            delegator,
            operator: OperatorId::from(operator),
            amount: Amount::new(1_000_000),
        }],
        models: vec![],
        allocations: vec![],
    };
    genesis.to_json()
}

fn main() {
    let root: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    for (name, tx) in transactions() {
        write(&root, "tx", name, &encode(&tx));
    }
    for (name, activation) in activations() {
        write(&root, "activation", name, &activation.to_bytes());
    }
    for (name, bytes) in gguf_files() {
        write(&root, "gguf", name, &bytes);
    }
    for (name, bytes) in safetensors_files() {
        write(&root, "safetensors", name, &bytes);
    }
    write(
        &root,
        "tokenizer",
        "word-level.json",
        TOKENIZER_WORD_LEVEL.as_bytes(),
    );
    write(&root, "tokenizer", "bpe.json", TOKENIZER_BPE.as_bytes());
    write(&root, "genesis", "minimal.json", GENESIS_JSON.as_bytes());
    write(&root, "genesis", "full.json", genesis_json().as_bytes());
    write(&root, "genesis", "minimal.toml", GENESIS_TOML.as_bytes());
    #[cfg(feature = "node")]
    {
        for (name, block) in node::blocks() {
            write(&root, "block", name, &encode(&block));
        }
        for (name, bytes) in node::proposal_parts() {
            write(&root, "proposal_part", &name, &bytes);
        }
        for (name, bytes) in node::sync_responses() {
            write(&root, "sync_response", name, &bytes);
        }
        for (name, body) in node::rpc_bodies() {
            write(&root, "rpc", name, body.as_bytes());
        }
    }
    println!("seed corpus written under {}", root.display());
}
