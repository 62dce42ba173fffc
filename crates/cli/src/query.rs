//! `surety query`: read chain state from a node and print the node's answer as it is.

use crate::rpc::Client;
use crate::{parse_account, parse_operator, print, CliError, Node};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum QueryCommand {
    Status(Node),
    Account {
        id: String,
        #[command(flatten)]
        node: Node,
    },
    Operator {
        id: String,
        #[command(flatten)]
        node: Node,
    },
    Operators(Node),
    Validators(Node),
    Delegations {
        account: String,
        #[command(flatten)]
        node: Node,
    },
    Tx {
        hash: String,
        #[command(flatten)]
        node: Node,
    },
    /// A block (latest if no height).
    Block {
        height: Option<u64>,
        #[command(flatten)]
        node: Node,
    },
}

pub(crate) fn run(json: bool, command: &QueryCommand) -> Result<(), CliError> {
    let client = |node: &Node| Client::new(&node.rpc);
    match command {
        QueryCommand::Status(node) => print(json, &client(node).status()?),
        QueryCommand::Account { id, node } => {
            print(json, &client(node).account(&parse_account(id)?)?)
        }
        QueryCommand::Operator { id, node } => {
            print(json, &client(node).operator(&parse_operator(id)?)?)
        }
        QueryCommand::Operators(node) => print(json, &client(node).operators()?),
        QueryCommand::Validators(node) => print(json, &client(node).validators()?),
        QueryCommand::Delegations { account, node } => {
            print(json, &client(node).delegations(&parse_account(account)?)?)
        }
        QueryCommand::Tx { hash, node } => print(json, &client(node).tx(hash)?),
        QueryCommand::Block { height, node } => print(json, &client(node).block(*height)?),
    }
    Ok(())
}
