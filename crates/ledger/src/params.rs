//! Chain parameters, set at genesis (governance will change them later). Every parameter is
//! checked by [`Params::validate`]; the rules there are what keep the protocol sound (for
//! example: stake must stay slashable until every delayed slash for its time has applied).

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use surety_types::{Amount, Ratio};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Blocks per epoch. The validator set changes, unbondings mature and delayed slashes
    /// apply at epoch ends.
    pub epoch_blocks: u64,
    pub max_validators: u32,
    /// Epochs an unbonding entry waits before it can be withdrawn.
    pub unbonding_epochs: u64,
    /// Self-delegation an operator needs to register and to stay un-jailed.
    pub min_self_bond: Amount,
    /// Smallest fee a transaction may pay.
    pub min_tx_fee: Amount,
    /// Yearly inflation as a fraction of total supply, minted per block.
    pub inflation_per_year: Ratio,
    pub blocks_per_year: u64,
    pub slashing: SlashingParams,
    pub market: MarketParams,
}

/// The inference market (DESIGN §5): models, services, jobs, audits and disputes.
///
/// The audit rule (docs/market.md): a cheating operator saves at most a job's fee worth of
/// compute, and is caught by an audit with probability `audit_rate`, losing at least
/// `wrong_result · service_allocation_min` plus the fee. [`Params::validate`] requires
/// `audit_rate · wrong_result · service_allocation_min > job_fee_max`, so cheating never pays.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketParams {
    /// Largest model file (weights or tokenizer), in bytes.
    pub model_file_bytes_max: u64,
    /// Smallest stake an operator may allocate to a model's service.
    pub service_allocation_min: Amount,
    /// Fee bounds for one job (all replicas together).
    pub job_fee_min: Amount,
    pub job_fee_max: Amount,
    /// Largest job input (text bytes, or encoded activation bytes).
    pub job_input_bytes_max: u64,
    /// Largest result output (encoded activation bytes).
    pub job_output_bytes_max: u64,
    pub replicas_max: u32,
    pub deadline_blocks_min: u64,
    pub deadline_blocks_max: u64,
    /// Times a job is reassigned after missed deadlines before it fails and is refunded.
    pub reassignments_max: u32,
    /// Blocks after the last result during which anyone may challenge it.
    pub challenge_window_blocks: u64,
    /// Probability that a job's result is audited (drawn from the block seed).
    pub audit_rate: Ratio,
    /// Blocks an auditor has to commit its own result.
    pub audit_deadline_blocks: u64,
    /// Share of each job's fee that goes to the audit fund.
    pub audit_fund_share: Ratio,
    /// Paid from the audit fund to an auditor whose audit completes.
    pub audit_reward: Amount,
    /// Bond a challenger who is not an assigned auditor puts up; forfeited if it loses.
    pub challenge_bond: Amount,
    /// Blocks each party has for each move of a dispute; a silent party loses.
    pub dispute_move_blocks: u64,
    /// Largest activation a party may hand the referee, in bytes.
    pub dispute_input_bytes_max: u64,
    /// Deposit a publisher escrows per MiB (rounded up) of a model's files at registration:
    /// returned when the model becomes active, burned if its files are rejected or its upload
    /// expires. It prices the chunks an upload keeps in every node's state meanwhile.
    pub model_deposit_per_mib: Amount,
    /// The least deposit of any registration, whatever the size its files claim: holding a
    /// manifest's id with commitments nobody can meet costs at least this per expiry.
    pub model_deposit_min: Amount,
    /// Blocks from registration for the last chunk to land; then the upload expires and its
    /// chunks are deleted.
    pub model_upload_blocks: u64,
}

impl Default for MarketParams {
    fn default() -> Self {
        MarketParams {
            model_file_bytes_max: 512 << 20,
            service_allocation_min: Amount(2_500_000),
            job_fee_min: Amount(1_000),
            job_fee_max: Amount(10_000),
            job_input_bytes_max: 16 * 1024,
            job_output_bytes_max: 32 * 1024,
            replicas_max: 5,
            deadline_blocks_min: 2,
            deadline_blocks_max: 1_000,
            reassignments_max: 3,
            challenge_window_blocks: 20,
            // 8%: verification costs the network 1.08 inferences per job on average, and the
            // audit rule holds with a factor of 2 (see `validate`).
            audit_rate: Ratio::from_percent(8).expect("8% is a ratio"),
            audit_deadline_blocks: 20,
            audit_fund_share: Ratio::from_percent(10).expect("10% is a ratio"),
            audit_reward: Amount(2_000),
            challenge_bond: Amount(100_000),
            dispute_move_blocks: 10,
            dispute_input_bytes_max: 64 << 20,
            // MiniLM's files, 87.1 MiB: 88,000, a few dozen jobs' fees.
            model_deposit_per_mib: Amount(1_000),
            // The challenge bond: a squatter's registration costs as much as a false challenge.
            model_deposit_min: Amount(100_000),
            // About 5.5 hours at one block per second: 1,859 MiniLM chunks fit many times over.
            model_upload_blocks: 20_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlashingParams {
    /// Base fractions per fault kind (DESIGN §3); the correlated rule can raise them.
    pub equivocation: Ratio,
    pub wrong_result: Ratio,
    pub missed_deadline: Ratio,
    pub downtime: Ratio,
    /// Epochs from the offence to the slash being applied. Stake is frozen meanwhile.
    pub slash_delay_epochs: u64,
    /// Offences in the same window are correlated, and count once per operator (the largest).
    pub window_epochs: u64,
    /// Evidence older than this is refused.
    pub evidence_max_age_epochs: u64,
    /// Epochs a jailed operator must wait before it may unjail.
    pub jail_epochs: u64,
    /// Downtime: a validator that signs fewer than `downtime_min_signed` of the last
    /// `downtime_window_blocks` blocks is at fault.
    pub downtime_window_blocks: u64,
    pub downtime_min_signed: Ratio,
    /// How slashed tokens are split; what remains is burned.
    pub whistleblower_share: Ratio,
    pub harmed_party_share: Ratio,
    pub insurance_share: Ratio,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            epoch_blocks: 100,
            max_validators: 100,
            unbonding_epochs: 28,
            min_self_bond: Amount(1_000_000),
            min_tx_fee: Amount(1_000),
            inflation_per_year: Ratio::from_percent(5).expect("5% is a ratio"),
            // One block per second.
            blocks_per_year: 31_536_000,
            slashing: SlashingParams::default(),
            market: MarketParams::default(),
        }
    }
}

impl Default for SlashingParams {
    fn default() -> Self {
        let percent = |p| Ratio::from_percent(p).expect("percent <= 100");
        SlashingParams {
            equivocation: percent(5),
            wrong_result: percent(10),
            missed_deadline: percent(1),
            downtime: Ratio::from_ppb(1_000_000).expect("0.1%"),
            slash_delay_epochs: 14,
            window_epochs: 7,
            evidence_max_age_epochs: 7,
            jail_epochs: 2,
            downtime_window_blocks: 1_000,
            downtime_min_signed: percent(50),
            whistleblower_share: percent(10),
            harmed_party_share: percent(20),
            insurance_share: percent(20),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error(
        "unbonding_epochs ({unbonding}) must exceed evidence_max_age_epochs + slash_delay_epochs \
         ({needed}), or stake could leave before its slash applies"
    )]
    UnbondingTooShort { unbonding: u64, needed: u64 },
    #[error(
        "slash_delay_epochs ({delay}) must be at least window_epochs ({window}), so a window is \
         closed before its correlated slashes are computed"
    )]
    DelayShorterThanWindow { delay: u64, window: u64 },
    #[error(
        "evidence_max_age_epochs ({age}) must be below slash_delay_epochs ({delay}), so late \
         evidence still finds its slash in the future"
    )]
    EvidenceOutlivesDelay { age: u64, delay: u64 },
    #[error("whistleblower, harmed-party and insurance shares add up to more than 1")]
    SplitAboveOne,
    #[error(
        "audit_rate · wrong_result · service_allocation_min ({expected_loss}) must exceed \
         job_fee_max ({fee_max}), or cheating on a job pays (docs/market.md)"
    )]
    CheatingPays {
        expected_loss: Amount,
        fee_max: Amount,
    },
    #[error("deadline_blocks_min must be at most deadline_blocks_max")]
    DeadlineBounds,
    #[error("job_fee_min must be at most job_fee_max")]
    FeeBounds,
    #[error("downtime_window_blocks must be at most {0}")]
    DowntimeWindowTooLong(u64),
}

/// Longest downtime window: the liveness bitmap is stored per validator.
pub const DOWNTIME_WINDOW_BLOCKS_MAX: u64 = 100_000;

impl Params {
    /// The epoch a height belongs to: heights `1..=epoch_blocks` are epoch 0, and so on.
    /// Genesis (height 0) is epoch 0.
    pub fn epoch_of(&self, height: surety_types::Height) -> surety_types::Epoch {
        surety_types::Epoch(height.0.saturating_sub(1) / self.epoch_blocks)
    }

    pub fn validate(&self) -> Result<(), ParamsError> {
        let s = &self.slashing;
        for (name, value) in [
            ("epoch_blocks", self.epoch_blocks),
            ("max_validators", self.max_validators as u64),
            ("blocks_per_year", self.blocks_per_year),
            ("window_epochs", s.window_epochs),
            ("downtime_window_blocks", s.downtime_window_blocks),
            ("replicas_max", self.market.replicas_max as u64),
            ("deadline_blocks_min", self.market.deadline_blocks_min),
            (
                "challenge_window_blocks",
                self.market.challenge_window_blocks,
            ),
            ("audit_deadline_blocks", self.market.audit_deadline_blocks),
            ("dispute_move_blocks", self.market.dispute_move_blocks),
            ("model_upload_blocks", self.market.model_upload_blocks),
        ] {
            if value == 0 {
                return Err(ParamsError::Zero(name));
            }
        }
        let needed = s.evidence_max_age_epochs + s.slash_delay_epochs;
        if self.unbonding_epochs <= needed {
            return Err(ParamsError::UnbondingTooShort {
                unbonding: self.unbonding_epochs,
                needed,
            });
        }
        if s.slash_delay_epochs < s.window_epochs {
            return Err(ParamsError::DelayShorterThanWindow {
                delay: s.slash_delay_epochs,
                window: s.window_epochs,
            });
        }
        if s.evidence_max_age_epochs >= s.slash_delay_epochs {
            return Err(ParamsError::EvidenceOutlivesDelay {
                age: s.evidence_max_age_epochs,
                delay: s.slash_delay_epochs,
            });
        }
        let split =
            s.whistleblower_share.ppb() + s.harmed_party_share.ppb() + s.insurance_share.ppb();
        if split > Ratio::DENOMINATOR {
            return Err(ParamsError::SplitAboveOne);
        }
        if s.downtime_window_blocks > DOWNTIME_WINDOW_BLOCKS_MAX {
            return Err(ParamsError::DowntimeWindowTooLong(
                DOWNTIME_WINDOW_BLOCKS_MAX,
            ));
        }
        let m = &self.market;
        if m.deadline_blocks_min > m.deadline_blocks_max {
            return Err(ParamsError::DeadlineBounds);
        }
        if m.job_fee_min > m.job_fee_max {
            return Err(ParamsError::FeeBounds);
        }
        let expected_loss = m
            .audit_rate
            .mul_floor(s.wrong_result.mul_floor(m.service_allocation_min));
        if expected_loss <= m.job_fee_max {
            return Err(ParamsError::CheatingPays {
                expected_loss,
                fee_max: m.job_fee_max,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Params::default().validate(), Ok(()));
    }

    #[test]
    fn unbonding_shorter_than_the_slash_horizon_is_refused() {
        let params = Params {
            unbonding_epochs: 10,
            ..Params::default()
        };
        assert!(matches!(
            params.validate(),
            Err(ParamsError::UnbondingTooShort { .. })
        ));
    }

    #[test]
    fn params_under_which_cheating_pays_are_refused() {
        let mut params = Params::default();
        params.market.audit_rate = Ratio::from_percent(1).unwrap();
        assert!(matches!(
            params.validate(),
            Err(ParamsError::CheatingPays { .. })
        ));
    }

    #[test]
    fn a_split_above_one_is_refused() {
        let mut params = Params::default();
        params.slashing.insurance_share = Ratio::ONE;
        assert_eq!(params.validate(), Err(ParamsError::SplitAboveOne));
    }
}
