//! The host: answers the engine's requests (`AppMsg`) with the application core. It builds
//! proposals from the mempool and streams them as parts, reassembles and validates other
//! validators' proposals, commits decided blocks (the one commit path, reached by consensus or
//! by sync), serves decided blocks to lagging peers, hands the engine the validator set of
//! each height, and turns the double votes and double proposals the engine observes into
//! ledger `Evidence::DoubleSign` transactions.

use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::core::{
    CommitCertificate as EngineCertificate, CommitSignature as EngineSignature,
    ExtendedCommitCertificate, LinearTimeouts, Round, SignedMessage, Validity, VoteExtensions,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{
    LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue,
};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use surety_ledger::slashing::Evidence;
use surety_ledger::tx::Msg;
use surety_types::encoding::{decode_bounded, encode};
use surety_types::tx::Tx;
use surety_types::vote::{ConsensusVote, SignedVote as LedgerSignedVote, VoteKind};
use surety_types::{AccountId, Height, SigningKey};
use tracing::{debug, error, info, warn};

use super::ctx::{Address, BHeight, BlockId, ProposalPart, SuretyCtx, ValidatorSet, Vote};
use crate::app::{App, RoundAlarm, SharedApp};
use crate::block::{Block, CommitCertificate, CommitSignature};

/// Size of one proposal data part.
const PART_BYTES: usize = 64 * 1024;
/// Largest encoded block the host will reassemble from parts.
const PROPOSAL_BYTES_MAX: usize = crate::app::BLOCK_BYTES_MAX + 4 * 1024 * 1024;
/// Most proposal streams reassembled at once; the oldest is dropped beyond this.
const OPEN_STREAMS_MAX: usize = 64;
/// Most bytes buffered across all incomplete streams; the oldest streams go first beyond it.
const BUFFERED_BYTES_MAX: usize = 2 * PROPOSAL_BYTES_MAX;
/// Most parts in one stream.
const STREAM_PARTS_MAX: u64 = (PROPOSAL_BYTES_MAX / PART_BYTES) as u64 + 4;
/// Most decided blocks served in one sync response.
const SYNC_BATCH_MAX: u64 = 64;
/// A proposal stream being reassembled.
struct PartialStream {
    height: u64,
    parts: BTreeMap<u64, StreamMessage<ProposalPart>>,
    bytes: usize,
    fin_sequence: Option<u64>,
    opened: u64,
}

/// A complete proposal for a future height, validated when that height starts.
struct Pending {
    round: Round,
    pol_round: Round,
    proposer: Address,
    block: Block,
}

pub struct Host {
    ctx: SuretyCtx,
    app: SharedApp,
    key: SigningKey,
    address: Address,
    /// Account that signs evidence transactions; none means the node only logs evidence.
    reporter: Option<SigningKey>,
    timeouts: LinearTimeouts,
    block_time: Option<std::time::Duration>,
    /// Blocks seen for heights not yet committed, by id.
    blocks: HashMap<BlockId, Block>,
    /// Streams of proposals we published or received, for restreaming.
    published: HashMap<(u64, u32, BlockId), Vec<StreamMessage<ProposalPart>>>,
    /// Values known for (height, round), returned on `StartedRound`.
    undecided: BTreeMap<(u64, u32), Vec<ProposedValue<SuretyCtx>>>,
    pending: BTreeMap<u64, Vec<Pending>>,
    streams: HashMap<(PeerId, StreamId), PartialStream>,
    stream_counter: u64,
    reported: std::collections::BTreeSet<(Address, u64, u32, u8)>,
    height_started: Option<(u64, Instant)>,
    /// Heights whose value came from sync (a peer's decided block), not from a proposal.
    synced: std::collections::BTreeSet<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn round_u32(round: Round) -> u32 {
    // The engine only asks for values and decides in defined rounds.
    round.as_u32().unwrap_or(0)
}

impl Host {
    pub fn new(
        ctx: SuretyCtx,
        app: SharedApp,
        key: SigningKey,
        reporter: Option<SigningKey>,
        timeouts: LinearTimeouts,
        block_time: Option<std::time::Duration>,
    ) -> Host {
        let address = Address(key.verification_key());
        Host {
            ctx,
            app,
            key,
            address,
            reporter,
            timeouts,
            block_time,
            blocks: HashMap::new(),
            published: HashMap::new(),
            undecided: BTreeMap::new(),
            pending: BTreeMap::new(),
            streams: HashMap::new(),
            stream_counter: 0,
            reported: Default::default(),
            height_started: None,
            synced: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, App> {
        crate::app::lock(&self.app)
    }

    fn params(&self, app: &App) -> HeightParams<SuretyCtx> {
        HeightParams::new(
            ValidatorSet::from_ledger(&app.validator_set(), app.last_seed()),
            self.timeouts,
            self.block_time,
        )
    }

    /// Run until the engine closes the channel.
    pub async fn run(mut self, channels: &mut Channels<SuretyCtx>) -> eyre::Result<()> {
        while let Some(msg) = channels.consensus.recv().await {
            self.handle(msg, channels).await?;
        }
        Err(eyre::eyre!("the consensus engine stopped"))
    }

    /// One engine message: the parent holds the match, each arm's work is its own method.
    async fn handle(
        &mut self,
        msg: AppMsg<SuretyCtx>,
        channels: &mut Channels<SuretyCtx>,
    ) -> eyre::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let _ = reply.send(self.consensus_ready());
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                let _ = reply_value.send(self.started_round(height, round));
            }
            AppMsg::GetValue {
                height,
                round,
                reply,
                ..
            } => {
                let Some((value, msgs)) = self.get_value(height, round) else {
                    return Ok(());
                };
                let _ = reply.send(value);
                publish(channels, msgs).await?;
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let _ = reply.send(self.on_part(published_by.unwrap_or(from), part));
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let msgs = self.restream(height, round, valid_round, address, value_id);
                publish(channels, msgs).await?;
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(BHeight(1));
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                // Extensions are disabled: there are none to judge.
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.decided(&certificate);
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                evidence,
                reply,
                ..
            } => {
                self.report_evidence(&evidence);
                let _ = reply.send(self.next_height(&certificate));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range.start().0, range.end().0));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced_value(height, round, proposer, &value_bytes));
            }
        }
        Ok(())
    }

    /// The height to start at and its parameters.
    fn consensus_ready(&self) -> (BHeight, HeightParams<SuretyCtx>) {
        let (height, params) = {
            let app = self.lock();
            (
                BHeight(app.ledger().height().next().get()),
                self.params(&app),
            )
        };
        info!(height = height.0, "consensus ready");
        (height, params)
    }

    /// A round started: time the height from its first round, judge proposals that arrived
    /// early for it, and hand back the values already known for the round.
    fn started_round(&mut self, height: BHeight, round: Round) -> Vec<ProposedValue<SuretyCtx>> {
        if round == Round::new(0) || self.height_started.is_none() {
            self.height_started = Some((height.0, Instant::now()));
        }
        self.promote_pending(height.0);
        let values = self
            .undecided
            .get(&(height.0, round_u32(round)))
            .cloned()
            .unwrap_or_default();
        debug!(height = height.0, round = %round, held = values.len(), "round started");
        values
    }

    /// Our proposal for (`height`, `round`): the one already made for it, or a new block from
    /// the mempool; with the parts to publish. None if this node is not in the set.
    fn get_value(
        &mut self,
        height: BHeight,
        round: Round,
    ) -> Option<(
        LocallyProposedValue<SuretyCtx>,
        Vec<StreamMessage<ProposalPart>>,
    )> {
        let r = round_u32(round);
        let existing = self.undecided.get(&(height.0, r)).and_then(|values| {
            values
                .iter()
                .find(|v| v.proposer == self.address)
                .map(|v| v.value)
        });
        let (id, block) = match existing.and_then(|id| Some((id, self.blocks.get(&id)?))) {
            Some((id, block)) => (id, block.clone()),
            None => {
                let block = self.propose()?;
                (BlockId(block.hash()), block)
            }
        };
        info!(
            height = height.0,
            round = r,
            txs = block.txs.len(),
            block = %id,
            "proposing"
        );
        let msgs = self.stream(height, round, Round::Nil, id, &block);
        self.remember_value(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.address,
            value: id,
            validity: Validity::Valid,
        });
        self.blocks.insert(id, block);
        Some((LocallyProposedValue::new(height, round, id), msgs))
    }

    /// A new block from the mempool, proposed by this node's operator, its seed drawn with
    /// this node's consensus key (the one it signs votes with).
    fn propose(&self) -> Option<Block> {
        let app = self.lock();
        let proposer = ValidatorSet::from_ledger(&app.validator_set(), app.last_seed())
            .operator_of(&self.address);
        let Some(proposer) = proposer else {
            warn!("asked to propose, but this node is not in the set");
            return None;
        };
        Some(app.propose(now_ms(), proposer, &self.key))
    }

    /// The parts of a proposal to publish again: ours re-streamed for the new round, or the
    /// stream as it was received.
    fn restream(
        &mut self,
        height: BHeight,
        round: Round,
        valid_round: Round,
        address: Address,
        value_id: BlockId,
    ) -> Vec<StreamMessage<ProposalPart>> {
        let stored = self
            .published
            .iter()
            .find(|((h, _, id), _)| *h == height.0 && *id == value_id)
            .map(|(_, msgs)| msgs.clone());
        match (address == self.address, self.blocks.get(&value_id)) {
            (true, Some(block)) => {
                let block = block.clone();
                self.stream(height, round, valid_round, value_id, &block)
            }
            _ => stored.unwrap_or_default(),
        }
    }

    /// Turn the double votes and double proposals the engine observed into evidence.
    fn report_evidence(&mut self, evidence: &MisbehaviorEvidence<SuretyCtx>) {
        for (_, pairs) in evidence.votes.iter() {
            for (a, b) in pairs {
                self.report(&a.message, &b.message, a.signature, b.signature);
            }
        }
        for (_, pairs) in evidence.proposals.iter() {
            for (a, b) in pairs {
                self.report_proposal(a, b);
            }
        }
    }

    /// After a decision: the next height, or the same height again if its block did not
    /// commit.
    fn next_height(&self, certificate: &EngineCertificate<SuretyCtx>) -> Next<SuretyCtx> {
        let app = self.lock();
        let committed = app.ledger().height().get();
        let params = self.params(&app);
        if committed >= certificate.height.0 {
            Next::Start(BHeight(committed + 1), params)
        } else {
            error!(
                height = certificate.height.0,
                "decided block did not commit; restarting the height"
            );
            Next::Restart(BHeight(committed + 1), params)
        }
    }

    /// A block a peer synced to us: remembered as the value of its height if it decodes.
    fn synced_value(
        &mut self,
        height: BHeight,
        round: Round,
        proposer: Address,
        value_bytes: &[u8],
    ) -> SyncedValueOutcome<SuretyCtx> {
        match decode_bounded::<Block>(value_bytes, PROPOSAL_BYTES_MAX) {
            Ok(block) if block.header.height.get() == height.0 => {
                let id = BlockId(block.hash());
                self.blocks.insert(id, block);
                self.synced.insert(height.0);
                SyncedValueOutcome::Verdict(ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer,
                    value: id,
                    validity: Validity::Valid,
                })
            }
            _ => {
                warn!(height = height.0, "a peer synced an undecodable block");
                SyncedValueOutcome::PeerFault
            }
        }
    }

    fn remember_value(&mut self, value: ProposedValue<SuretyCtx>) {
        let slot = self
            .undecided
            .entry((value.height.0, round_u32(value.round)))
            .or_default();
        if !slot.contains(&value) {
            slot.push(value);
        }
    }

    /// The parts of a proposal: init, the encoded block in chunks, and the proposer's signed
    /// fin; then the stream's end.
    fn stream(
        &mut self,
        height: BHeight,
        round: Round,
        pol_round: Round,
        id: BlockId,
        block: &Block,
    ) -> Vec<StreamMessage<ProposalPart>> {
        self.stream_counter += 1;
        let mut sid = height.0.to_be_bytes().to_vec();
        sid.extend_from_slice(&round_u32(round).to_be_bytes());
        sid.extend_from_slice(&self.stream_counter.to_be_bytes());
        let sid = StreamId::new(Bytes::from(sid));
        let bytes = encode(block);
        let mut parts = vec![ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer: self.address,
        }];
        parts.extend(
            bytes
                .chunks(PART_BYTES)
                .map(|c| ProposalPart::Data(c.to_vec())),
        );
        let statement = proposal_statement(&self.ctx, height, round, pol_round, id, self.address);
        parts.push(ProposalPart::Fin {
            block_id: id,
            signature: self.key.sign(&statement.sign_bytes()).into(),
        });
        let mut msgs: Vec<_> = parts
            .into_iter()
            .enumerate()
            .map(|(i, p)| StreamMessage::new(sid.clone(), i as u64, StreamContent::Data(p)))
            .collect();
        let n = msgs.len() as u64;
        msgs.push(StreamMessage::new(sid, n, StreamContent::Fin));
        self.published
            .insert((height.0, round_u32(round), id), msgs.clone());
        msgs
    }

    /// Buffer one part; when its stream is complete, check it and return the proposed value.
    fn on_part(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<SuretyCtx>> {
        let next_height = self.lock().ledger().height().next().get();
        let msgs = self.buffer_part(from, msg, next_height)?;
        let (init, data, signed) = assemble(&msgs)?;
        let (height, round, pol_round, proposer) = init;
        let (id, signature) = signed;
        // Only the proposer's own signed stream is worth decoding.
        let statement = proposal_statement(&self.ctx, height, round, pol_round, id, proposer);
        if proposer
            .0
            .verify(&signature.into(), &statement.sign_bytes())
            .is_err()
        {
            warn!(
                height = height.0,
                "dropped a proposal stream with a bad signature"
            );
            return None;
        }
        let block = match decode_bounded::<Block>(&data, PROPOSAL_BYTES_MAX) {
            Ok(block) if BlockId(block.hash()) == id => block,
            _ => {
                warn!(
                    height = height.0,
                    "dropped a proposal whose bytes do not match its id"
                );
                return None;
            }
        };
        self.published
            .insert((height.0, round_u32(round), id), msgs);
        if height.0 > next_height {
            self.pending.entry(height.0).or_default().push(Pending {
                round,
                pol_round,
                proposer,
                block,
            });
            return None;
        }
        Some(self.judge(round, pol_round, proposer, block))
    }

    /// Add one part to its stream within the limits; the stream's parts in order once it is
    /// complete.
    fn buffer_part(
        &mut self,
        from: PeerId,
        msg: StreamMessage<ProposalPart>,
        next_height: u64,
    ) -> Option<Vec<StreamMessage<ProposalPart>>> {
        let key = (from, msg.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= OPEN_STREAMS_MAX {
            let oldest = self
                .streams
                .iter()
                .min_by_key(|(_, s)| s.opened)
                .map(|(k, _)| k.clone())?;
            self.streams.remove(&oldest);
        }
        self.stream_counter += 1;
        let opened = self.stream_counter;
        let stream = self.streams.entry(key.clone()).or_insert(PartialStream {
            height: 0,
            parts: BTreeMap::new(),
            bytes: 0,
            fin_sequence: None,
            opened,
        });
        if msg.sequence >= STREAM_PARTS_MAX {
            self.streams.remove(&key);
            return None;
        }
        match &msg.content {
            StreamContent::Fin => stream.fin_sequence = Some(msg.sequence),
            StreamContent::Data(ProposalPart::Data(d)) => stream.bytes += d.len(),
            StreamContent::Data(ProposalPart::Init { height, .. }) => stream.height = height.0,
            StreamContent::Data(ProposalPart::Fin { .. }) => {}
        }
        if stream.bytes > PROPOSAL_BYTES_MAX || (stream.height != 0 && stream.height < next_height)
        {
            self.streams.remove(&key);
            return None;
        }
        stream.parts.insert(msg.sequence, msg);
        self.bound_buffered(&key);
        let stream = self.streams.get_mut(&key)?;
        let fin = stream.fin_sequence?;
        if stream.parts.len() as u64 != fin + 1 {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        Some(stream.parts.into_values().collect())
    }

    /// Drop the oldest other streams while more than `BUFFERED_BYTES_MAX` are buffered, so
    /// peers cannot make the node hold many large half-sent proposals.
    fn bound_buffered(&mut self, keep: &(PeerId, StreamId)) {
        let mut total: usize = self.streams.values().map(|s| s.bytes).sum();
        while total > BUFFERED_BYTES_MAX {
            let Some(oldest) = self
                .streams
                .iter()
                .filter(|(k, _)| *k != keep)
                .min_by_key(|(_, s)| s.opened)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(dropped) = self.streams.remove(&oldest) {
                total -= dropped.bytes;
            }
        }
    }

    /// Validate a complete proposal for the next height and remember it.
    fn judge(
        &mut self,
        round: Round,
        pol_round: Round,
        proposer: Address,
        block: Block,
    ) -> ProposedValue<SuretyCtx> {
        let id = BlockId(block.hash());
        let verdict = {
            let app = self.lock();
            let set = ValidatorSet::from_ledger(&app.validator_set(), app.last_seed());
            match set.operator_of(&proposer) {
                None => Err("the proposer is not in the validator set".to_string()),
                Some(operator) => {
                    // A fresh proposal names its own proposer; a re-proposal of a locked value
                    // keeps the original's, which must still be a validator.
                    let named_ok = if pol_round == Round::Nil {
                        block.header.proposer == operator
                    } else {
                        set.validators
                            .iter()
                            .any(|v| v.operator == block.header.proposer)
                    };
                    if !named_ok {
                        Err(format!(
                            "block names proposer {} but came from {operator}",
                            block.header.proposer
                        ))
                    } else {
                        app.validate(&block, now_ms()).map_err(|e| e.to_string())
                    }
                }
            }
        };
        let validity = match &verdict {
            Ok(()) => Validity::Valid,
            Err(reason) => {
                warn!(height = block.header.height.get(), %reason, "invalid proposal");
                Validity::Invalid
            }
        };
        let value = ProposedValue {
            height: BHeight(block.header.height.get()),
            round,
            valid_round: pol_round,
            proposer,
            value: id,
            validity,
        };
        self.blocks.insert(id, block);
        self.remember_value(value.clone());
        value
    }

    fn promote_pending(&mut self, height: u64) {
        let stale: Vec<u64> = self.pending.range(..height).map(|(h, _)| *h).collect();
        for h in stale {
            self.pending.remove(&h);
        }
        if let Some(list) = self.pending.remove(&height) {
            for p in list {
                self.judge(p.round, p.pol_round, p.proposer, p.block);
            }
        }
    }

    /// Commit a decided block with its certificate.
    fn decided(&mut self, certificate: &EngineCertificate<SuretyCtx>) {
        let height = certificate.height.0;
        let Some(block) = self.blocks.get(&certificate.value_id).cloned() else {
            error!(height, "decided a block this node does not hold");
            return;
        };
        let cert = from_engine(certificate);
        let result = self.lock().commit(&block, &cert);
        match result {
            Ok(outcome) => {
                let from_sync = self.synced.contains(&height);
                let finality = match self.height_started.take() {
                    Some((h, start)) if h == height && !from_sync => Some(start.elapsed()),
                    _ => None,
                };
                let failed = outcome.receipts.iter().filter(|r| !r.is_ok()).count();
                info!(
                    height,
                    round = %certificate.round,
                    txs = block.txs.len(),
                    failed,
                    signers = cert.signatures.len(),
                    root = %outcome.state_root,
                    finality_ms = finality.map(|d| d.as_secs_f64() * 1e3),
                    "committed"
                );
                let mut app = self.lock();
                let params = app.ledger().params();
                let (margin, burst) = (
                    crate::app::LATER_ROUND_SHARE_ALERT,
                    usize::try_from(params.shortest_censorable_window()).unwrap_or(usize::MAX),
                );
                let stats = &mut app.consensus_stats;
                let later = round_u32(certificate.round) > 0;
                match stats.record_round(later, margin, burst) {
                    Some(RoundAlarm::Raised) => warn!(
                        height,
                        share = stats.recent_later_share(),
                        margin = %margin,
                        "more than one recent height in twenty was decided in a later round, \
                         or half of a claim window's worth: honest proposers are missing their \
                         rounds, or colluding ones withholding; windows stretch for them up to \
                         their caps (docs/node.md)"
                    ),
                    Some(RoundAlarm::Cleared) => info!(
                        height,
                        share = stats.recent_later_share(),
                        "later rounds are back below one height in twenty"
                    ),
                    None => {}
                }
                if from_sync {
                    stats.synced += 1;
                } else {
                    stats.heights_decided += 1;
                }
                if let Some(d) = finality {
                    stats.push_finality(d.as_secs_f64() * 1e3);
                }
            }
            Err(e) => error!(height, error = %e, "commit failed"),
        }
        self.blocks.retain(|_, b| b.header.height.get() > height);
        self.undecided.retain(|(h, _), _| *h > height);
        self.published.retain(|(h, _, _), _| *h > height);
        self.streams
            .retain(|_, s| s.height == 0 || s.height > height);
    }

    fn decided_values(&self, start: u64, end: u64) -> Vec<RawDecidedValue<SuretyCtx>> {
        let app = self.lock();
        let tip = app.ledger().height().get();
        let end = end.min(tip).min(start.saturating_add(SYNC_BATCH_MAX - 1));
        let mut out = Vec::new();
        for h in start.max(1)..=end {
            let (Ok(Some(block)), Ok(Some(cert))) = (
                app.storage().block(Height::new(h)),
                app.certificate(Height::new(h)),
            ) else {
                break;
            };
            out.push(RawDecidedValue {
                value_bytes: Bytes::from(encode(&block)),
                certificate: ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    to_engine(&cert),
                    VoteExtensions::default(),
                ),
            });
        }
        out
    }

    fn report_proposal(
        &mut self,
        a: &SignedMessage<SuretyCtx, super::ctx::Proposal>,
        b: &SignedMessage<SuretyCtx, super::ctx::Proposal>,
    ) {
        let first = LedgerSignedVote {
            vote: a.message.to_consensus_vote(&self.ctx.chain_id),
            signature: a.signature.into(),
        };
        let second = LedgerSignedVote {
            vote: b.message.to_consensus_vote(&self.ctx.chain_id),
            signature: b.signature.into(),
        };
        self.submit_evidence(a.message.proposer, first, second);
    }

    fn report(&mut self, a: &Vote, b: &Vote, sa: super::ctx::Sig, sb: super::ctx::Sig) {
        let first = LedgerSignedVote {
            vote: a.to_consensus_vote(&self.ctx.chain_id),
            signature: sa.into(),
        };
        let second = LedgerSignedVote {
            vote: b.to_consensus_vote(&self.ctx.chain_id),
            signature: sb.into(),
        };
        self.submit_evidence(a.validator, first, second);
    }

    /// Sign and submit an evidence transaction (once per validator and slot), after checking
    /// it the way the ledger will.
    fn submit_evidence(
        &mut self,
        offender: Address,
        first: LedgerSignedVote,
        second: LedgerSignedVote,
    ) {
        if let Err(e) = surety_types::vote::check_equivocation(&first, &second) {
            warn!(error = %e, "the engine reported evidence that does not check");
            return;
        }
        let kind = first.vote.kind as u8;
        let slot = (offender, first.vote.height.get(), first.vote.round, kind);
        if !self.reported.insert(slot) {
            return;
        }
        warn!(
            validator = %offender,
            height = first.vote.height.get(),
            round = first.vote.round,
            kind = ?first.vote.kind,
            "double signing observed"
        );
        let Some(reporter) = &self.reporter else {
            return;
        };
        let signer = AccountId::from_key(&reporter.verification_key());
        let mut app = self.lock();
        let nonce = app.next_nonce(&signer);
        let tx = Tx {
            chain_id: self.ctx.chain_id.to_string(),
            signer,
            nonce,
            fee: app.ledger().params().bank.min_tx_fee,
            msg: Msg::SubmitEvidence(Box::new(Evidence::DoubleSign { first, second })),
        };
        match app.submit(encode(&tx.sign(reporter))) {
            Ok(hash) => {
                app.consensus_stats.evidence_submitted += 1;
                info!(tx = %hash, "submitted double-sign evidence");
            }
            Err(e) => warn!(error = %e, "could not submit double-sign evidence"),
        }
    }
}

/// Publish proposal parts on the network.
async fn publish(
    channels: &mut Channels<SuretyCtx>,
    msgs: Vec<StreamMessage<ProposalPart>>,
) -> eyre::Result<()> {
    for m in msgs {
        channels
            .network
            .send(NetworkMsg::PublishProposalPart(m))
            .await?;
    }
    Ok(())
}

/// What a proposal stream's init says: height, round, proof-of-lock round, proposer.
type StreamInit = (BHeight, Round, Round, Address);

/// A complete stream's init, its block bytes, and the proposer's signed fin.
fn assemble(
    msgs: &[StreamMessage<ProposalPart>],
) -> Option<(StreamInit, Vec<u8>, (BlockId, super::ctx::Sig))> {
    let mut init = None;
    let mut data = Vec::new();
    let mut signed = None;
    for m in msgs {
        match m.content.as_data() {
            Some(ProposalPart::Init {
                height,
                round,
                pol_round,
                proposer,
            }) => init = Some((*height, *round, *pol_round, *proposer)),
            Some(ProposalPart::Data(d)) => data.extend_from_slice(d),
            Some(ProposalPart::Fin {
                block_id,
                signature,
            }) => signed = Some((*block_id, *signature)),
            None => {}
        }
    }
    Some((init?, data, signed?))
}

fn proposal_statement(
    ctx: &SuretyCtx,
    height: BHeight,
    round: Round,
    pol_round: Round,
    id: BlockId,
    proposer: Address,
) -> ConsensusVote {
    ConsensusVote {
        chain_id: ctx.chain_id.to_string(),
        height: Height::new(height.0),
        round: round_u32(round),
        kind: VoteKind::Proposal,
        value: Some(id.0),
        valid_round: pol_round.as_u32(),
        validator: proposer.0,
    }
}

/// The engine's certificate as the ledger-facing one (sorted by validator key).
pub fn from_engine(cert: &EngineCertificate<SuretyCtx>) -> CommitCertificate {
    let mut signatures: Vec<CommitSignature> = cert
        .commit_signatures
        .iter()
        .map(|s| CommitSignature {
            validator: s.address.0,
            signature: s.signature.into(),
        })
        .collect();
    signatures.sort_by_key(|s| s.validator);
    signatures.dedup_by(|a, b| a.validator == b.validator);
    CommitCertificate {
        height: Height::new(cert.height.0),
        round: round_u32(cert.round),
        block_hash: cert.value_id.0,
        signatures,
    }
}

pub fn to_engine(cert: &CommitCertificate) -> EngineCertificate<SuretyCtx> {
    EngineCertificate {
        height: BHeight(cert.height.get()),
        round: Round::new(cert.round),
        value_id: BlockId(cert.block_hash),
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| EngineSignature::new(Address(s.validator), s.signature.into()))
            .collect(),
    }
}
