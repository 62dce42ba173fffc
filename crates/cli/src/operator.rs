//! `surety operator`: what an operator's owner signs off the chain. `family-consent`: the
//! head of a family signs its consent for a member to declare the family (docs/ledger.md,
//! "Family consent"); the member passes it to `surety tx register-operator` or `edit-operator` as
//! `--family-consent`.

use crate::rpc::Client;
use crate::{keys, parse_account, print, CliError, KeyDir, Node};
use clap::Subcommand;
use surety_ledger::staking::sign_family_consent;
use surety_types::{AccountId, Epoch};

#[derive(Subcommand)]
pub(crate) enum OperatorCommand {
    /// As a family's head, consent to MEMBER declaring the family (prints the consent as hex).
    FamilyConsent {
        /// Name of the head's key (its account names the family).
        #[arg(long)]
        from: String,
        /// Account of the operator that joins the family.
        #[arg(long)]
        member: String,
        /// The last epoch the consent admits MEMBER: at its end the membership lapses unless
        /// renewed with a newer consent (a head takes a member out by not renewing).
        #[arg(long)]
        until_epoch: u64,
        /// The chain the consent is for; asked of the node when not given.
        #[arg(long)]
        chain_id: Option<String>,
        #[command(flatten)]
        dir: KeyDir,
        #[command(flatten)]
        node: Node,
    },
}

pub(crate) fn run(json: bool, command: &OperatorCommand) -> Result<(), CliError> {
    match command {
        OperatorCommand::FamilyConsent {
            from,
            member,
            until_epoch,
            chain_id,
            dir,
            node,
        } => {
            let key = keys::load(&dir.keys, from)?;
            let member = parse_account(member)?;
            let chain_id = match chain_id {
                Some(chain_id) => chain_id.clone(),
                None => Client::new(&node.rpc).status()?.chain_id,
            };
            let until = Epoch::new(*until_epoch);
            let consent = sign_family_consent(&key, &chain_id, &member, until);
            let head = AccountId::from_key(&key.verification_key());
            print(
                json,
                &serde_json::json!({
                    "chain_id": chain_id,
                    "head": head,
                    "member": member,
                    "family_consent": consent,
                    "family_until": until,
                }),
            );
        }
    }
    Ok(())
}
