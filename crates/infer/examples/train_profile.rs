//! Where a traced training minibatch spends its time: each step's compute and the hash of the
//! slot it writes, timed separately and summed over minibatches (the fastest of `rounds`
//! passes over the same minibatches). On Linux the times are this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so on a shared machine the time spent waiting for a core is
//! left out; meant for one thread (other threads' work is not counted).
//!
//!     cargo run --release -p surety-infer --example train_profile -- <data dir> [mlp|cnn] [batch] [threads] [minibatches] [rounds]

// A measuring tool outside the engine: it reads clocks, which the crate's engine code may not.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use surety_infer::tensor::slot_hash;
use surety_infer::train::dataset::Dataset;
use surety_infer::train::network::Network;
use surety_infer::train::ops::{compute, compute_in_place, Context};
use surety_infer::train::{Schedule, Sgd, Trainer, TrainingConfig};
use surety_infer::Executor;

/// Seconds of CPU time of this thread (Linux), else of the wall clock since first called.
fn now() -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            seconds: i64,
            nanoseconds: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut time = Timespec {
            seconds: 0,
            nanoseconds: 0,
        };
        // SAFETY: clock_gettime writes one timespec, which `time` is, and reads nothing else.
        if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut time) } == 0 {
            return time.seconds as f64 + time.nanoseconds as f64 * 1e-9;
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: train_profile <data dir> [mlp|cnn] [batch] [threads] [minibatches] [rounds]";
    let data = PathBuf::from(args.get(1).ok_or(usage)?).join("mnist");
    let name = args.get(2).map_or("mlp", String::as_str);
    let batch: usize = args.get(3).map_or(Ok(32), |a| a.parse())?;
    let threads: usize = args.get(4).map_or(Ok(1), |a| a.parse())?;
    let minibatches: u64 = args.get(5).map_or(Ok(100), |a| a.parse())?;
    let rounds: usize = args.get(6).map_or(Ok(3), |a| a.parse())?;
    let train = Dataset::from_idx(
        &std::fs::read(data.join("train-images-idx3-ubyte"))?,
        &std::fs::read(data.join("train-labels-idx1-ubyte"))?,
    )?;
    let network = if name == "cnn" {
        Network::mnist_cnn()
    } else {
        Network::mnist_mlp()
    };
    let config = TrainingConfig {
        network,
        optimiser: Sgd {
            momentum: 0.9,
            weight_decay: 5e-4,
            schedule: Schedule::constant(0.01),
        },
        batch,
        seed: 1,
    };
    let trainer = Trainer::new(config, &train, (0..train.len() as u32).collect())?;
    let executor = Executor::new(threads)?;
    let context = Context {
        executor: &executor,
        dataset: &train,
    };
    let initial = trainer
        .run(&executor, trainer.initial_state(1)?, 0, 2)?
        .state;
    let per_minibatch = trainer.steps_per_minibatch();
    let mut labels = Vec::new();
    // Per step: (compute, hash) seconds of the fastest round.
    let mut best = vec![(f64::MAX, f64::MAX); per_minibatch];
    let mut whole = f64::MAX;
    for _ in 0..rounds {
        let mut times = vec![(0.0f64, 0.0f64); per_minibatch];
        let mut activation = initial.clone();
        for minibatch in 2..2 + minibatches {
            let steps = trainer.minibatch_steps(minibatch)?;
            labels = steps.iter().map(|s| s.label()).collect();
            for (index, step) in steps.iter().enumerate() {
                // As `Trainer::run` does: update steps in place, every other step computed.
                let start = now();
                let output = if compute_in_place(&context, step, &mut activation)? {
                    None
                } else {
                    Some(compute(&context, step, &activation)?)
                };
                let computed = now();
                let written = match &output {
                    Some(tensor) => tensor,
                    None => activation.get(&step.output)?,
                };
                std::hint::black_box(slot_hash(&step.output, written));
                let hashed = now();
                times[index].0 += computed - start;
                times[index].1 += hashed - computed;
                if let Some(output) = output {
                    activation.set(&step.output, output);
                }
            }
        }
        for (b, t) in best.iter_mut().zip(&times) {
            *b = (b.0.min(t.0), b.1.min(t.1));
        }
        let start = now();
        std::hint::black_box(trainer.run(&executor, initial.clone(), 2, minibatches)?);
        whole = whole.min(now() - start);
    }
    let ms = |seconds: f64| seconds * 1e3 / minibatches as f64;
    println!("{name} batch {batch} threads {threads}: ms per minibatch, fastest of {rounds}");
    println!("| step | compute | hash |");
    println!("| --- | --- | --- |");
    let (mut compute_total, mut hash_total) = (0.0, 0.0);
    for (label, (c, h)) in labels.iter().zip(&best) {
        println!("| {label} | {:.3} | {:.3} |", ms(*c), ms(*h));
        compute_total += c;
        hash_total += h;
    }
    println!(
        "| sum of steps | {:.3} | {:.3} |\n\nTrainer::run: {:.3} ms per minibatch",
        ms(compute_total),
        ms(hash_total),
        ms(whole)
    );
    Ok(())
}
