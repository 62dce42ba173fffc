//! `surety-sim`: run the market simulation and print its markdown report (stdout is a pure
//! function of the arguments; wall time goes to stderr).

use clap::Parser;
use surety_sim::config::Config;

/// Adversarial simulation of Surety's inference market on the real ledger.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Operators, each serving one of the models.
    #[arg(long, default_value_t = 2_000)]
    operators: usize,
    /// Models, each served by its own service (default: operators / 250, at least 1).
    #[arg(long)]
    services: Option<usize>,
    /// Jobs submitted.
    #[arg(long, default_value_t = 100_000)]
    jobs: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Jobs submitted per block (default: operators / 20, between 5 and 100).
    #[arg(long)]
    jobs_per_block: Option<usize>,
    /// Fee per job.
    #[arg(long)]
    fee: Option<u128>,
    /// Off-ledger cost of one inference to its operator.
    #[arg(long)]
    compute_cost: Option<u128>,
    /// Pareto shape of stake sizes.
    #[arg(long)]
    stake_alpha: Option<f64>,
    /// The sybil family's share of all stake.
    #[arg(long)]
    family_stake_share: Option<f64>,
    /// The partner auditors' share of all stake (default: the ledger's collusion_fraction).
    #[arg(long)]
    partner_stake_share: Option<f64>,
    /// Salts a grinding partner tries per seal.
    #[arg(long)]
    grind_salts: Option<usize>,
    /// Also sweep audit rate × family stake share.
    #[arg(long)]
    sweep: bool,
    /// Only the sweep.
    #[arg(long)]
    sweep_only: bool,
    /// Jobs per sweep point (default: jobs / 10).
    #[arg(long)]
    sweep_jobs: Option<usize>,
    /// Operators per sweep point (default: --operators).
    #[arg(long)]
    sweep_operators: Option<usize>,
}

fn main() {
    let args = Args::parse();
    let mut config = Config::new(args.operators, args.jobs, args.seed);
    if let Some(v) = args.services {
        config.services = v.max(1);
    }
    if let Some(v) = args.jobs_per_block {
        config.jobs_per_block = v;
    }
    if let Some(v) = args.fee {
        config.fee = v;
    }
    if let Some(v) = args.compute_cost {
        config.compute_cost = v;
    }
    if let Some(v) = args.stake_alpha {
        config.stake_alpha = v;
    }
    if let Some(v) = args.family_stake_share {
        config.family_stake_share = v;
    }
    if let Some(v) = args.partner_stake_share {
        config.partner_stake_share = v;
    }
    if let Some(v) = args.grind_salts {
        config.grind_salts = v;
    }
    let started = std::time::Instant::now();
    if args.sweep_only {
        let operators = args.sweep_operators.unwrap_or(config.operators);
        let mut base = Config::new(
            operators,
            args.sweep_jobs.unwrap_or(config.jobs / 10),
            args.seed,
        );
        base.fee = config.fee;
        base.compute_cost = config.compute_cost;
        base.stake_alpha = config.stake_alpha;
        let points = surety_sim::sweep(&base);
        print!("{}", surety_sim::sweep_markdown(&base, &points));
        return;
    }
    let summary = surety_sim::run(&config);
    let wall = started.elapsed().as_secs_f64();
    print!("{}", surety_sim::report::markdown(&config, &summary));
    eprintln!("main run: {wall:.1} s");
    if args.sweep {
        let operators = args.sweep_operators.unwrap_or(config.operators);
        let mut base = Config::new(
            operators,
            args.sweep_jobs.unwrap_or(config.jobs / 10),
            args.seed,
        );
        base.fee = config.fee;
        base.compute_cost = config.compute_cost;
        base.stake_alpha = config.stake_alpha;
        let started = std::time::Instant::now();
        let points = surety_sim::sweep(&base);
        println!();
        print!("{}", surety_sim::sweep_markdown(&base, &points));
        eprintln!("sweep: {:.1} s", started.elapsed().as_secs_f64());
    }
}
