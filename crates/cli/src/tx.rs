//! `surety tx`: build one transaction from the command line, sign it with a key file, submit
//! it to a node and (unless `--no-wait`) wait for its block and print its receipt.

use crate::rpc::Client;
use crate::submit::Submitter;
use crate::{keys, parse_account, parse_operator, print, CliError, KeyDir, Node};
use clap::{Args, Subcommand};
use std::time::Instant;
use surety_ledger::bank::Transfer;
use surety_ledger::rewards::ClaimRewards;
use surety_ledger::staking::{
    check_family_consent, Delegate, EditOperator, OperatorMetadata, Redelegate, RegisterOperator,
    Undelegate,
};
use surety_ledger::tx::Msg;
use surety_types::{AccountId, Amount, Epoch, OperatorId, Ratio, Shares, Signature, SigningKey};

/// Longest wait for a submitted transaction to land in a block.
const TX_WAIT_MS_MAX: u64 = 30_000;

#[derive(Args)]
pub(crate) struct TxArgs {
    /// Name of the signing key.
    #[arg(long)]
    from: String,
    /// Fee to pay, in base units.
    #[arg(long, default_value_t = 1_000)]
    fee: u128,
    /// Return once submitted, without waiting for the block.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    dir: KeyDir,
    #[command(flatten)]
    node: Node,
    #[command(subcommand)]
    msg: TxCommand,
}

#[derive(Subcommand)]
pub(crate) enum TxCommand {
    Transfer {
        #[arg(long)]
        to: String,
        #[arg(long)]
        amount: u128,
    },
    /// Register the signer as an operator with a self-bond.
    RegisterOperator {
        #[arg(long)]
        self_bond: u128,
        /// Commission as a decimal fraction, e.g. 0.05.
        #[arg(long, default_value = "0.05")]
        commission: String,
        #[arg(long, default_value = "0.01")]
        max_commission_change: String,
        #[arg(long, default_value = "")]
        moniker: String,
        #[arg(long, default_value = "")]
        endpoint: String,
        /// Name of the consensus key (defaults to the signing key).
        #[arg(long)]
        consensus_key: Option<String>,
        #[command(flatten)]
        family: FamilyArgs,
    },
    /// Change the signer's operator's commission or metadata. Metadata fields not given keep
    /// their values on chain (read from the node first).
    EditOperator {
        /// New commission as a decimal fraction, e.g. 0.05.
        #[arg(long)]
        commission: Option<String>,
        #[arg(long)]
        moniker: Option<String>,
        #[arg(long)]
        website: Option<String>,
        #[arg(long)]
        details: Option<String>,
        #[arg(long)]
        endpoint: Option<String>,
        #[command(flatten)]
        family: FamilyArgs,
        /// Leave the declared family (no consent needed).
        #[arg(long, conflicts_with_all = ["family", "family_consent", "family_until"])]
        leave_family: bool,
    },
    /// Add to the signer's own self-bond (the signer must be an operator).
    Bond {
        #[arg(long)]
        amount: u128,
    },
    Delegate {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        amount: u128,
    },
    Undelegate {
        #[arg(long)]
        operator: String,
        #[arg(long)]
        shares: u128,
    },
    Redelegate {
        #[arg(long)]
        source: String,
        #[arg(long)]
        destination: String,
        #[arg(long)]
        shares: u128,
    },
    /// Claim rewards from a delegation.
    Claim {
        #[arg(long)]
        operator: String,
    },
    /// Withdraw matured unbonding entries.
    Withdraw,
    Unjail,
}

/// A family to declare: the head's account and, unless it is the signer's own, the head's
/// consent (`surety operator family-consent`, run by the head).
#[derive(Args)]
pub(crate) struct FamilyArgs {
    /// Account of the family's head.
    #[arg(long)]
    family: Option<String>,
    /// The head's consent for the signer, as hex (`surety operator family-consent`).
    #[arg(long, requires_all = ["family", "family_until"])]
    family_consent: Option<String>,
    /// The last epoch the consent admits the signer (the `--until-epoch` it was signed for).
    #[arg(long, requires = "family_consent")]
    family_until: Option<u64>,
}

/// A declared family: the head, and its consent with its last epoch unless the head is the
/// signer itself.
type Declared = (AccountId, Option<(Signature, Epoch)>);

impl FamilyArgs {
    /// The family as given; `None` when no family is named.
    fn parse(&self) -> Result<Option<Declared>, CliError> {
        let Some(family) = &self.family else {
            return Ok(None);
        };
        let consent = match (&self.family_consent, self.family_until) {
            (Some(consent), Some(until)) => Some((parse_signature(consent)?, Epoch::new(until))),
            _ => None,
        };
        Ok(Some((parse_account(family)?, consent)))
    }

    /// Write the declared family into `metadata`.
    fn apply(declared: Declared, metadata: &mut OperatorMetadata) {
        let (head, consent) = declared;
        metadata.family = Some(head);
        metadata.family_consent = consent.map(|(signature, _)| signature);
        metadata.family_until = consent.map(|(_, until)| until);
    }
}

/// 128 hex digits as a signature.
fn parse_signature(text: &str) -> Result<Signature, CliError> {
    let bad = |reason: String| CliError::Input(format!("family consent {text:?}: {reason}"));
    let bytes = hex::decode(text).map_err(|e| bad(e.to_string()))?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|_| bad("expected 64 bytes (128 hex digits)".into()))?;
    Ok(Signature(bytes))
}

/// The metadata of an [`EditOperator`]: the operator's current metadata with the fields given
/// replaced; `None` when no field is given (the edit leaves the metadata alone).
fn edited_metadata(
    args: &TxArgs,
    signer: &SigningKey,
    fields: [&Option<String>; 4],
    family: &FamilyArgs,
    leave_family: bool,
) -> Result<Option<OperatorMetadata>, CliError> {
    let declared = family.parse()?;
    if fields.iter().all(|f| f.is_none()) && declared.is_none() && !leave_family {
        return Ok(None);
    }
    let id = OperatorId::from(AccountId::from_key(&signer.verification_key()));
    let mut metadata = Client::new(&args.node.rpc).operator(&id)?.operator.metadata;
    let [moniker, website, details, endpoint] = fields;
    for (field, value) in [
        (&mut metadata.moniker, moniker),
        (&mut metadata.website, website),
        (&mut metadata.details, details),
        (&mut metadata.endpoint, endpoint),
    ] {
        if let Some(value) = value {
            field.clone_from(value);
        }
    }
    if let Some(declared) = declared {
        FamilyArgs::apply(declared, &mut metadata);
    }
    if leave_family {
        (
            metadata.family,
            metadata.family_consent,
            metadata.family_until,
        ) = (None, None, None);
    }
    Ok(Some(metadata))
}

/// A decimal fraction between 0 and 1 ("0.05", "1", ".5") as a ratio, exactly.
fn parse_ratio(text: &str) -> Result<Ratio, CliError> {
    let bad = || CliError::Input(format!("{text:?} is not a fraction between 0 and 1"));
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let fraction_ppb: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<9}").parse().map_err(|_| bad())?
    };
    let ppb = whole
        .checked_mul(Ratio::DENOMINATOR)
        .and_then(|w| w.checked_add(fraction_ppb))
        .ok_or_else(bad)?;
    Ratio::from_ppb(ppb).ok_or_else(bad)
}

/// The message `args` asks for; `signer` is the already-loaded signing key.
fn build_msg(args: &TxArgs, signer: &SigningKey) -> Result<Msg, CliError> {
    Ok(match &args.msg {
        TxCommand::Transfer { to, amount } => Msg::Transfer(Transfer {
            to: parse_account(to)?,
            amount: Amount::new(*amount),
        }),
        TxCommand::RegisterOperator {
            self_bond,
            commission,
            max_commission_change,
            moniker,
            endpoint,
            consensus_key,
            family,
        } => {
            let consensus = match consensus_key {
                Some(name) => keys::load(&args.dir.keys, name)?,
                None => signer.clone(),
            };
            let mut metadata = OperatorMetadata {
                moniker: moniker.clone(),
                endpoint: endpoint.clone(),
                ..Default::default()
            };
            if let Some(declared) = family.parse()? {
                FamilyArgs::apply(declared, &mut metadata);
            }
            Msg::RegisterOperator(RegisterOperator {
                consensus_key: consensus.verification_key(),
                commission: parse_ratio(commission)?,
                max_commission_change: parse_ratio(max_commission_change)?,
                metadata,
                self_bond: Amount::new(*self_bond),
            })
        }
        TxCommand::EditOperator {
            commission,
            moniker,
            website,
            details,
            endpoint,
            family,
            leave_family,
        } => {
            let fields = [moniker, website, details, endpoint];
            let metadata = edited_metadata(args, signer, fields, family, *leave_family)?;
            let commission = commission.as_deref().map(parse_ratio).transpose()?;
            if commission.is_none() && metadata.is_none() {
                return Err(CliError::Input(
                    "edit-operator changes nothing: give --commission or a metadata field".into(),
                ));
            }
            Msg::EditOperator(EditOperator {
                commission,
                metadata,
            })
        }
        // An operator's id is its account's: bonding is delegating to oneself.
        TxCommand::Bond { amount } => Msg::Delegate(Delegate {
            operator: OperatorId::from(AccountId::from_key(&signer.verification_key())),
            amount: Amount::new(*amount),
        }),
        TxCommand::Delegate { operator, amount } => Msg::Delegate(Delegate {
            operator: parse_operator(operator)?,
            amount: Amount::new(*amount),
        }),
        TxCommand::Undelegate { operator, shares } => Msg::Undelegate(Undelegate {
            operator: parse_operator(operator)?,
            shares: Shares::new(*shares),
        }),
        TxCommand::Redelegate {
            source,
            destination,
            shares,
        } => Msg::Redelegate(Redelegate {
            source: parse_operator(source)?,
            destination: parse_operator(destination)?,
            shares: Shares::new(*shares),
        }),
        TxCommand::Claim { operator } => Msg::ClaimRewards(ClaimRewards {
            operator: parse_operator(operator)?,
        }),
        TxCommand::Withdraw => Msg::WithdrawUnbonded,
        TxCommand::Unjail => Msg::Unjail,
    })
}

/// A family declared in `msg` without a consent the ledger would accept is refused here, before
/// it costs a fee: the consent is checked as the ledger checks it.
fn check_family(
    msg: &Msg,
    chain_id: &str,
    signer: &AccountId,
    epoch: Epoch,
) -> Result<(), CliError> {
    let metadata = match msg {
        Msg::RegisterOperator(RegisterOperator { metadata, .. }) => metadata,
        Msg::EditOperator(EditOperator {
            metadata: Some(metadata),
            ..
        }) => metadata,
        _ => return Ok(()),
    };
    check_family_consent(metadata, chain_id, signer, epoch)
        .map_err(|e| CliError::Input(e.to_string()))
}

pub(crate) fn run(json: bool, args: &TxArgs) -> Result<(), CliError> {
    // The message is checked before the node is asked anything (but the operator's metadata an
    // edit keeps).
    let key = keys::load(&args.dir.keys, &args.from)?;
    let msg = build_msg(args, &key)?;
    let submitter = Submitter::new(&args.node.rpc, &args.dir.keys, &args.from, args.fee)?;
    check_family(
        &msg,
        submitter.chain_id(),
        &submitter.account,
        submitter.epoch(),
    )?;
    let hash = submitter.submit(msg)?;
    if args.no_wait {
        print(
            json,
            &serde_json::json!({ "hash": hash, "status": "pending" }),
        );
        return Ok(());
    }
    let Some(landed) = submitter.landed(&hash, Instant::now(), TX_WAIT_MS_MAX)? else {
        return Err(CliError::Input(format!(
            "transaction {hash} not in a block after {TX_WAIT_MS_MAX} ms; still pending"
        )));
    };
    let receipt = &landed.receipt;
    print(
        json,
        &serde_json::json!({ "hash": hash, "height": landed.height, "error": receipt.error, "events": receipt.events }),
    );
    match &receipt.error {
        Some(error) => Err(CliError::Input(format!(
            "transaction failed in block {}: {error}",
            landed.height
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_parse_exactly_and_refuse_nonsense() {
        assert_eq!(
            parse_ratio("0.05").unwrap(),
            Ratio::from_percent(5).unwrap()
        );
        assert_eq!(parse_ratio("1").unwrap(), Ratio::ONE);
        assert_eq!(parse_ratio(".5").unwrap(), Ratio::from_percent(50).unwrap());
        assert_eq!(
            parse_ratio("0.000000001").unwrap(),
            Ratio::from_ppb(1).unwrap()
        );
        for bad in ["1.5", "-0.1", "0.0000000001", "abc", "0.5x", "2"] {
            assert!(parse_ratio(bad).is_err(), "{bad}");
        }
    }
}
