//! Transactions, accounts, staking, blocks, proofs, status and metrics.

use super::error::{bad_request, internal, not_found, parse_account, parse_operator, ApiError};
use super::BODY_BYTES_MAX;
use crate::api::{
    AccountView, BlockView, ConsensusView, DelegationView, DelegationsView, GossipAnswer,
    GossipTxs, OperatorList, OperatorView, ProofView, StatusView, SubmitTx, Submitted, TxStatus,
    ValidatorList, GOSSIP_BATCH_MAX,
};
use crate::app::{lock, App, SharedApp};
use crate::mempool::AdmitError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use surety_ledger::{bank, staking};
use surety_types::{Hash, Height};

/// Longest state key a proof may be asked for.
const PROOF_KEY_BYTES_MAX: usize = 256;

pub(super) async fn submit_tx(
    State(app): State<SharedApp>,
    body: Result<Json<SubmitTx>, JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError(
            e.status(),
            format!(
                "body must be JSON {{\"tx\": \"<hex>\"}} within {BODY_BYTES_MAX} bytes: {}",
                e.body_text()
            ),
        )
    })?;
    let bytes =
        hex::decode(body.tx.trim()).map_err(|e| bad_request(format!("tx is not hex: {e}")))?;
    let hash = lock(&app).submit(bytes).map_err(|error| match error {
        AdmitError::Full(_) => ApiError(StatusCode::SERVICE_UNAVAILABLE, error.to_string()),
        AdmitError::CannotPay { .. } => ApiError(StatusCode::PAYMENT_REQUIRED, error.to_string()),
        AdmitError::Duplicate => ApiError(StatusCode::CONFLICT, error.to_string()),
        other => bad_request(other.to_string()),
    })?;
    Ok((StatusCode::ACCEPTED, Json(Submitted { hash })))
}

/// Transactions a peer forwards: admitted like client transactions but not forwarded again.
/// Each is judged on its own; the answer counts the admitted ones.
pub(super) async fn gossip_txs(
    State(app): State<SharedApp>,
    body: Result<Json<GossipTxs>, JsonRejection>,
) -> Result<Json<GossipAnswer>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError(
            e.status(),
            format!(
                "body must be JSON {{\"txs\": [\"<hex>\", ...]}}: {}",
                e.body_text()
            ),
        )
    })?;
    if body.txs.len() > GOSSIP_BATCH_MAX {
        return Err(bad_request(format!(
            "{} transactions in one batch; at most {GOSSIP_BATCH_MAX}",
            body.txs.len()
        )));
    }
    let mut admitted = 0usize;
    let mut app = lock(&app);
    for tx in &body.txs {
        let Ok(bytes) = hex::decode(tx.trim()) else {
            continue;
        };
        if app.submit_gossiped(bytes).is_ok() {
            admitted += 1;
        }
    }
    Ok(Json(GossipAnswer {
        admitted,
        received: body.txs.len(),
    }))
}

pub(super) async fn tx_status(
    State(app): State<SharedApp>,
    Path(hash): Path<String>,
) -> Result<Json<TxStatus>, ApiError> {
    let hash = Hash::from_hex(&hash).map_err(|e| bad_request(format!("tx hash: {e}")))?;
    let app = lock(&app);
    if let Some(stored) = app.storage().receipt(&hash).map_err(internal)? {
        return Ok(Json(TxStatus::Committed {
            height: stored.height,
            index: stored.index,
            receipt: Box::new(stored.receipt),
        }));
    }
    if app.mempool().contains(&hash) {
        return Ok(Json(TxStatus::Pending));
    }
    Err(not_found(format!("no transaction {hash}")))
}

pub(super) async fn account(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let id = parse_account(&id)?;
    let app = lock(&app);
    let record = bank::state::account(app.ledger().store(), &id);
    Ok(Json(AccountView {
        account: id,
        balance: record.balance,
        nonce: record.nonce,
        next_nonce: app.next_nonce(&id),
    }))
}

pub(super) async fn operators(State(app): State<SharedApp>) -> Json<OperatorList> {
    let app = lock(&app);
    Json(OperatorList(staking::state::all_operators(
        app.ledger().store(),
    )))
}

pub(super) async fn operator(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<OperatorView>, ApiError> {
    let id = parse_operator(&id)?;
    let app = lock(&app);
    let store = app.ledger().store();
    let operator = staking::state::operator(store, &id)
        .ok_or_else(|| not_found(format!("no operator {id}")))?;
    let self_bond = staking::self_bond(store, &operator);
    Ok(Json(OperatorView {
        operator,
        self_bond,
    }))
}

pub(super) async fn delegations(
    State(app): State<SharedApp>,
    Path(id): Path<String>,
) -> Result<Json<DelegationsView>, ApiError> {
    let id = parse_account(&id)?;
    let app = lock(&app);
    let store = app.ledger().store();
    let delegations = staking::state::operators_of(store, &id)
        .into_iter()
        .filter_map(|operator_id| {
            let operator = staking::state::operator(store, &operator_id)?;
            let delegation = staking::state::delegation(store, &operator_id, &id);
            Some(DelegationView {
                operator: operator_id,
                shares: delegation.shares,
                tokens: operator.tokens_for(delegation.shares),
                pending_rewards: staking::accumulator::owed(store, &operator_id, &delegation),
            })
        })
        .collect();
    Ok(Json(DelegationsView {
        account: id,
        delegations,
        unbonding: staking::state::unbondings_of(store, &id),
    }))
}

pub(super) async fn validators(State(app): State<SharedApp>) -> Json<ValidatorList> {
    let app = lock(&app);
    Json(ValidatorList(staking::state::active_set(
        app.ledger().store(),
    )))
}

fn block_view(app: &App, height: Height) -> Result<Json<BlockView>, ApiError> {
    let block = app
        .storage()
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("no block at height {height}")))?;
    Ok(Json(BlockView {
        hash: block.hash(),
        txs: block.txs.iter().map(hex::encode).collect(),
        header: block.header,
    }))
}

pub(super) async fn latest_block(
    State(app): State<SharedApp>,
) -> Result<Json<BlockView>, ApiError> {
    let app = lock(&app);
    let height = app.ledger().height();
    block_view(&app, height)
}

pub(super) async fn block(
    State(app): State<SharedApp>,
    Path(height): Path<String>,
) -> Result<Json<BlockView>, ApiError> {
    let height: u64 = height
        .parse()
        .map_err(|_| bad_request(format!("height {height:?} is not a number")))?;
    let app = lock(&app);
    block_view(&app, Height::new(height))
}

pub(super) async fn proof(
    State(app): State<SharedApp>,
    Path(key): Path<String>,
) -> Result<Json<ProofView>, ApiError> {
    let key = hex::decode(&key).map_err(|e| bad_request(format!("key is not hex: {e}")))?;
    if key.len() > PROOF_KEY_BYTES_MAX {
        return Err(bad_request(format!(
            "key is longer than {PROOF_KEY_BYTES_MAX} bytes"
        )));
    }
    let mut app = lock(&app);
    let height = app.ledger().height();
    let state_root = app.ledger().state_root();
    let (value, proof) = app.ledger_mut().prove(&key);
    Ok(Json(ProofView {
        height,
        state_root,
        key: hex::encode(&key),
        value: value.map(hex::encode),
        proof,
    }))
}

pub(super) async fn status(State(app): State<SharedApp>) -> Json<StatusView> {
    let app = lock(&app);
    let ledger = app.ledger();
    let stats = &app.consensus_stats;
    Json(StatusView {
        chain_id: ledger.chain_id().to_string(),
        height: ledger.height(),
        epoch: ledger.params().epoch_of(ledger.height()),
        state_root: ledger.state_root(),
        timestamp_ms: ledger.timestamp_ms(),
        mempool_txs: app.mempool().len(),
        validators: staking::state::active_set(ledger.store()).len(),
        consensus: ConsensusView {
            heights_decided: stats.heights_decided,
            heights_synced: stats.synced,
            later_rounds: stats.later_rounds,
            recent_later_round_share: stats.recent_later_share(),
            later_round_alarm: stats.later_round_alarm,
            evidence_submitted: stats.evidence_submitted,
        },
    })
}

/// One Prometheus gauge in the text exposition format.
fn gauge(text: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    text.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    ));
}

pub(super) async fn metrics(State(app): State<SharedApp>) -> impl IntoResponse {
    let app = lock(&app);
    let mut text = String::new();
    consensus_gauges(&mut text, &app);
    ledger_gauges(&mut text, &app);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

fn consensus_gauges(text: &mut String, app: &App) {
    let stats = &app.consensus_stats;
    gauge(
        text,
        "surety_height",
        "Height of the last committed block.",
        app.ledger().height().get(),
    );
    gauge(
        text,
        "surety_mempool_txs",
        "Transactions waiting in the mempool.",
        app.mempool().len(),
    );
    gauge(
        text,
        "surety_consensus_heights_decided",
        "Heights this node decided in consensus since it started.",
        stats.heights_decided,
    );
    gauge(
        text,
        "surety_consensus_heights_synced",
        "Heights this node committed from sync since it started.",
        stats.synced,
    );
    gauge(
        text,
        "surety_consensus_later_rounds",
        "Heights decided in a round above 0 since start.",
        stats.later_rounds,
    );
    gauge(
        text,
        "surety_consensus_recent_later_round_share",
        "Share of the last 1,000 heights committed that were decided in a round above 0.",
        format!("{:.4}", stats.recent_later_share()),
    );
    gauge(
        text,
        "surety_consensus_later_round_alarm",
        "1 when that share is above 5%, or half of the last shortest censorable window's \
         heights were: the windows' stretch caps may be spent.",
        u8::from(stats.later_round_alarm),
    );
    if let Some(last) = stats.finality_ms.last() {
        gauge(
            text,
            "surety_consensus_last_finality_ms",
            "Start of the last height to its decision, milliseconds.",
            format!("{last:.3}"),
        );
    }
}

fn ledger_gauges(text: &mut String, app: &App) {
    let store = app.ledger().store();
    gauge(
        text,
        "surety_validators",
        "Validators in the active set.",
        staking::state::active_set(store).len(),
    );
    gauge(
        text,
        "surety_bonded_tokens",
        "Tokens in the bonded pool.",
        bank::pool_balance(store, bank::Pool::Bonded),
    );
    gauge(
        text,
        "surety_total_supply",
        "Total token supply, burned included.",
        bank::total_supply(store),
    );
    gauge(
        text,
        "surety_burned_tokens",
        "Tokens burned.",
        bank::pool_balance(store, bank::Pool::Burned),
    );
}
