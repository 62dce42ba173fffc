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
    fn a_split_above_one_is_refused() {
        let mut params = Params::default();
        params.slashing.insurance_share = Ratio::ONE;
        assert_eq!(params.validate(), Err(ParamsError::SplitAboveOne));
    }
}
