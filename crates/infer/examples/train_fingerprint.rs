//! Prints the state hash and trace root of fixed training runs on MNIST, one line each, so
//! that one binary natively, under `qemu-x86_64 -cpu Nehalem` and built with
//! `-C target-cpu=native` can be compared with `diff` (DESIGN §4, issue #11).
//!
//!     cargo run --release -p surety-infer --example train_fingerprint -- <data dir> [threads] [cnn minibatches]
//!
//! The MLP (784-256-10) runs 100 minibatches of 32; the CNN runs `cnn minibatches` (default
//! 100) of 32, fewer under qemu to keep CI short.

use std::path::PathBuf;
use surety_infer::train::dataset::Dataset;
use surety_infer::train::network::Network;
use surety_infer::train::{training_state_hash, Schedule, Sgd, Trainer, TrainingConfig};
use surety_infer::Executor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: train_fingerprint <data dir> [threads] [cnn minibatches]")?,
    )
    .join("mnist");
    let threads: usize = std::env::args().nth(2).map_or(Ok(2), |t| t.parse())?;
    let cnn_minibatches: u64 = std::env::args().nth(3).map_or(Ok(100), |t| t.parse())?;
    let executor = Executor::new(threads)?;
    let train = Dataset::from_idx(
        &std::fs::read(data.join("train-images-idx3-ubyte"))?,
        &std::fs::read(data.join("train-labels-idx1-ubyte"))?,
    )?;
    println!("mnist train root {}", train.root());
    for (name, network, minibatches) in [
        ("mlp", Network::mnist_mlp(), 100),
        ("cnn", Network::mnist_cnn(), cnn_minibatches),
    ] {
        let config = TrainingConfig {
            network,
            optimiser: Sgd {
                momentum: 0.9,
                weight_decay: 5e-4,
                schedule: Schedule {
                    pieces: vec![(0, 0.02), (50, 0.01)],
                },
            },
            batch: 32,
            seed: 17,
        };
        let trainer = Trainer::new(config, &train, (0..train.len() as u32).collect())?;
        let run = trainer.run(&executor, trainer.initial_state(42)?, 0, minibatches)?;
        println!(
            "{name} {minibatches} minibatches state {} trace_root {} last_loss_bits {:08x}",
            training_state_hash(&run.state),
            run.trace.root(),
            run.losses.last().map_or(0, |loss| loss.to_bits())
        );
    }
    Ok(())
}
