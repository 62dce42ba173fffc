//! The catalogue of operator strategies and what each decides, apart from any transaction:
//! the driver ([`crate::driver`]) asks a strategy what to do with a job, an audit, a proposer
//! slot or a spare block, and turns the answer into the ledger's messages. Keeping decisions
//! here keeps the driver's port to a new commit flow small.

use std::fmt;

/// How an operator plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strategy {
    /// Computes every job and audit, commits on time, never lies.
    Honest,
    /// Honest, and the victim of censoring proposers (reported apart).
    CensoredVictim,
    /// Computes nothing: commits a wrong output with a self-consistent fake trace.
    Tamper,
    /// Runs a different real checkpoint of the model (cheaper weights it already has).
    OtherWeights,
    /// Honest worker; when drawn to audit, does not compute but guesses.
    LazyAuditor,
    /// On a replicated job, reuses another replica's result instead of computing.
    Copier,
    /// A tamperer that grinds the salt of its seal (the one input of the auditors' VRFs it
    /// controls) until its colluding validator's VRF selects it to audit the job; the
    /// validator, auditing its partner, agrees with the fabrication.
    GrindPartner,
    /// A validator colluding with a grinding partner: audits it in agreement when selected,
    /// and, holding the proposer slot, leaves outsiders' audit claims on its partner's jobs out
    /// of its block (a claim window is censored only if every one of its proposers colludes).
    Grinder,
    /// One undeclared owner's family of operators: tamper alike and agree with each other's
    /// wrong outputs when auditing them.
    Sybil,
    /// A few undeclared partners holding about `collusion_fraction` of the stake (the review's
    /// partner-auditor attack, docs/market.md "The audit game"): as it seals, a member reads
    /// the job's record in state; it fabricates unless an outsider holds another replica (who
    /// audits is not decided before the seals: the gamble), and a partner whose VRF selects it
    /// to audit a partner's fabrication vouches for it.
    PartnerAuditor,
    /// Honest worker that also opens false challenges with a bond.
    Griefer,
    /// Honest worker; as proposer leaves its victims' transactions and every audit claim out.
    Censor,
    /// Signs two different results for a job: one committed, one handed to the client.
    Equivocator,
    /// Misses its deadlines.
    Late,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 14] = [
        Strategy::Honest,
        Strategy::CensoredVictim,
        Strategy::Tamper,
        Strategy::OtherWeights,
        Strategy::LazyAuditor,
        Strategy::Copier,
        Strategy::GrindPartner,
        Strategy::Grinder,
        Strategy::Sybil,
        Strategy::PartnerAuditor,
        Strategy::Griefer,
        Strategy::Censor,
        Strategy::Equivocator,
        Strategy::Late,
    ];

    /// Plays by the rules (its profit is the baseline, and it must lose nothing).
    pub fn is_honest(self) -> bool {
        matches!(self, Strategy::Honest | Strategy::CensoredVictim)
    }

    /// What it calls a cheat, for the "caught" column.
    pub fn cheat(self) -> &'static str {
        match self {
            Strategy::Honest | Strategy::CensoredVictim => "-",
            Strategy::Tamper
            | Strategy::GrindPartner
            | Strategy::Sybil
            | Strategy::PartnerAuditor => "wrong result",
            Strategy::OtherWeights => "other weights",
            Strategy::LazyAuditor => "guessed audit",
            Strategy::Copier => "copied result",
            Strategy::Grinder => "vouch or censor",
            Strategy::Griefer => "false challenge",
            Strategy::Censor => "censored block",
            Strategy::Equivocator => "second result",
            Strategy::Late => "missed deadline",
        }
    }

    /// What it does with a job it is assigned to compute.
    pub fn work(self) -> Work {
        match self {
            Strategy::Tamper => Work::Fabricate,
            Strategy::Sybil => Work::FabricateAsFamily,
            Strategy::GrindPartner => Work::FabricateAndGrindSalt,
            Strategy::PartnerAuditor => Work::FabricateUnlessOutsiderReplica,
            Strategy::OtherWeights => Work::OtherWeights,
            Strategy::Copier => Work::CopyElseCompute,
            Strategy::Equivocator => Work::ComputeAndEquivocate,
            Strategy::Late => Work::Silent,
            _ => Work::Compute,
        }
    }

    /// What it does when its VRF selects it to audit a result (every strategy claims then);
    /// `target_in_family` says whether the audited
    /// operator belongs to its own (undeclared) family (for partner auditors: and fabricated
    /// this job, which partners tell each other off the ledger).
    pub fn audit(self, target_in_family: bool) -> Audit {
        match self {
            Strategy::LazyAuditor => Audit::Guess,
            Strategy::Sybil | Strategy::Grinder | Strategy::PartnerAuditor if target_in_family => {
                Audit::AgreeAsFamily
            }
            Strategy::Late => Audit::Silent,
            // A cheater auditing an outsider gains nothing by lying and would be slashed.
            _ => Audit::Compute,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Strategy::Honest => "honest",
            Strategy::CensoredVictim => "honest, censored",
            Strategy::Tamper => "tampering",
            Strategy::OtherWeights => "other weights",
            Strategy::LazyAuditor => "lazy auditor",
            Strategy::Copier => "copying replica",
            Strategy::GrindPartner => "grinding partner",
            Strategy::Grinder => "grinding proposer",
            Strategy::Sybil => "sybil family",
            Strategy::PartnerAuditor => "partner auditors",
            Strategy::Griefer => "griefing challenger",
            Strategy::Censor => "censoring proposer",
            Strategy::Equivocator => "equivocator",
            Strategy::Late => "late",
        };
        f.write_str(name)
    }
}

/// A worker's plan for one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// Run the model and commit the real result.
    Compute,
    /// Commit a fabricated output and trace (no inference).
    Fabricate,
    /// Commit the family's shared fabrication for the job (no inference).
    FabricateAsFamily,
    /// Commit the family's fabrication, with the seal's salt ground so that the colluding
    /// validator's VRF selects it to audit the job (when it can be found in the tries allowed).
    FabricateAndGrindSalt,
    /// As it seals, read the job from state: fabricate as a family unless an outsider holds
    /// another replica (an outsider's replica would disagree); compute otherwise.
    FabricateUnlessOutsiderReplica,
    /// Run the other checkpoint and commit that.
    OtherWeights,
    /// Wait for another replica's result and re-sign it; compute if none comes in time.
    CopyElseCompute,
    /// Compute and commit, and hand the client a second, different signed result.
    ComputeAndEquivocate,
    /// Never commit.
    Silent,
}

/// An auditor's plan for one audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audit {
    /// Re-execute and commit the real result.
    Compute,
    /// No inference: commit whatever it can see or guess.
    Guess,
    /// Commit the family's fabrication, agreeing with the family member audited.
    AgreeAsFamily,
    /// Never commit.
    Silent,
}

/// What a proposer does with its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proposal {
    /// Includes every pending transaction, with its own seed.
    Fair,
    /// Leaves out its victims' transactions and every audit claim.
    Censor,
    /// Leaves out audit claims on its partner's jobs by operators outside its family.
    CensorClaimsOnPartner,
}

impl Strategy {
    /// What it does when it holds the proposer slot.
    pub fn proposal(self) -> Proposal {
        match self {
            Strategy::Censor => Proposal::Censor,
            Strategy::Grinder => Proposal::CensorClaimsOnPartner,
            _ => Proposal::Fair,
        }
    }
}
