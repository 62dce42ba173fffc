//! Training benchmark (issue #11), one run, figures side by side:
//!
//! 1. time per minibatch of surety-infer's traced training and of candle's (candle-nn, its
//!    plain SGD; the same networks, initial weights and batches) for the MNIST MLP and CNN,
//!    batch 32 and 128, on 1 and 2 threads (candle runs in a child process per thread count,
//!    because its thread count is fixed per process by `RAYON_NUM_THREADS`);
//! 2. the cost of `Trainer::execute_step` (and hashing its result) for the largest step of a
//!    minibatch, as a fraction of the whole traced minibatch;
//! 3. test accuracy after every epoch of centralised training of both networks, printed and
//!    drawn as an SVG plot.
//!
//!     cargo run --release -- <data dir> <plot.svg> [mlp epochs] [cnn epochs]
//!
//! `<data dir>` is where `scripts/fetch-data` put `mnist/`. `SKIP_SPEED=1` skips parts 1 and 2,
//! `SKIP_ACCURACY=1` part 3; `MODELS=mlp` (or `cnn`) limits parts 1 and 2 to one network;
//! `ROUNDS=n` repeats part 1 and keeps each side's fastest round.

use candle_core::{DType, Device, Module, Tensor as CandleTensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use std::path::Path;
use std::time::Instant;
use surety_infer::train::dataset::Dataset;
use surety_infer::train::network::Network;
use surety_infer::train::ops::{PIXEL_DEVIATION, PIXEL_MEAN};
use surety_infer::train::{evaluate, training_state_hash, Schedule, Sgd, Trainer, TrainingConfig};
use surety_infer::{Activation, Executor};

type Error = Box<dyn std::error::Error>;

/// Seconds of CPU time this process has used, all its threads together (Linux; elsewhere 0).
/// On a shared machine a one-thread figure in CPU time leaves out the time spent waiting for
/// a busy core, which wall time counts for whichever side happened to wait.
fn process_cpu_seconds() -> f64 {
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
        const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
        let mut time = Timespec {
            seconds: 0,
            nanoseconds: 0,
        };
        // SAFETY: clock_gettime writes one timespec, which `time` is, and reads nothing else.
        if unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut time) } == 0 {
            return time.seconds as f64 + time.nanoseconds as f64 * 1e-9;
        }
    }
    0.0
}

/// Wall and CPU milliseconds per minibatch.
#[derive(Clone, Copy)]
struct Timing {
    wall_ms: f64,
    cpu_ms: f64,
}

impl Timing {
    /// Times `work`, which runs `count` minibatches.
    fn of(count: u64, work: impl FnOnce() -> Result<(), Error>) -> Result<Timing, Error> {
        let (start, cpu_start) = (Instant::now(), process_cpu_seconds());
        work()?;
        Ok(Timing {
            wall_ms: start.elapsed().as_secs_f64() * 1e3 / count as f64,
            cpu_ms: (process_cpu_seconds() - cpu_start) * 1e3 / count as f64,
        })
    }

    fn min(self, other: Timing) -> Timing {
        Timing {
            wall_ms: self.wall_ms.min(other.wall_ms),
            cpu_ms: self.cpu_ms.min(other.cpu_ms),
        }
    }
}

fn load(data: &Path, images: &str, labels: &str) -> Result<Dataset, Error> {
    let folder = data.join("mnist");
    Ok(Dataset::from_idx(
        &std::fs::read(folder.join(images))?,
        &std::fs::read(folder.join(labels))?,
    )?)
}

fn network(name: &str) -> Network {
    if name == "mlp" {
        Network::mnist_mlp()
    } else {
        Network::mnist_cnn()
    }
}

fn config(name: &str, batch: usize, schedule: Schedule) -> TrainingConfig {
    TrainingConfig {
        network: network(name),
        optimiser: Sgd {
            momentum: 0.9,
            weight_decay: 5e-4,
            schedule,
        },
        batch,
        seed: 1,
    }
}

/// Minibatches timed per configuration (after two warm-up minibatches).
fn timed_minibatches(name: &str, batch: usize) -> u64 {
    match (name, batch) {
        ("mlp", 32) => 200,
        ("mlp", _) => 60,
        (_, 32) => 30,
        _ => 10,
    }
}

fn surety_ms(train: &Dataset, name: &str, batch: usize, threads: usize) -> Result<Timing, Error> {
    let trainer = Trainer::new(
        config(name, batch, Schedule::constant(0.01)),
        train,
        (0..train.len() as u32).collect(),
    )?;
    let executor = Executor::new(threads)?;
    let state = trainer
        .run(&executor, trainer.initial_state(1)?, 0, 2)?
        .state;
    let count = timed_minibatches(name, batch);
    Timing::of(count, || {
        let run = trainer.run(&executor, state, 2, count)?;
        std::hint::black_box(run.trace.root());
        Ok(())
    })
}

/// The candle network with surety's initial parameters.
struct CandleNet {
    varmap: VarMap,
    layers: Vec<Box<dyn Module>>,
    cnn: bool,
}

impl CandleNet {
    fn new(name: &str, initial: &Activation) -> Result<CandleNet, Error> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let mut layers: Vec<Box<dyn Module>> = Vec::new();
        let cnn = name == "cnn";
        if cnn {
            let conv = candle_nn::Conv2dConfig {
                padding: 2,
                ..Default::default()
            };
            layers.push(Box::new(candle_nn::conv2d(
                1,
                16,
                5,
                conv,
                vb.pp("conv.0"),
            )?));
            layers.push(Box::new(candle_nn::conv2d(
                16,
                32,
                5,
                conv,
                vb.pp("conv.1"),
            )?));
            layers.push(Box::new(candle_nn::linear(1568, 10, vb.pp("dense.0"))?));
        } else {
            layers.push(Box::new(candle_nn::linear(784, 256, vb.pp("layers.0"))?));
            layers.push(Box::new(candle_nn::linear(256, 10, vb.pp("layers.1"))?));
        }
        for (name, var) in varmap.data().lock().map_err(|_| "varmap lock")?.iter() {
            let (shape, values) = initial.f32(name)?;
            var.set(&CandleTensor::from_vec(
                values.to_vec(),
                shape,
                &Device::Cpu,
            )?)?;
        }
        Ok(CandleNet {
            varmap,
            layers,
            cnn,
        })
    }

    fn forward(&self, x: &CandleTensor) -> candle_core::Result<CandleTensor> {
        if self.cnn {
            let x = self.layers[0].forward(x)?.relu()?.max_pool2d(2)?;
            let x = self.layers[1].forward(&x)?.relu()?.max_pool2d(2)?;
            self.layers[2].forward(&x.flatten_from(1)?)
        } else {
            self.layers[1].forward(&self.layers[0].forward(x)?.relu()?)
        }
    }
}

fn candle_batch(
    train: &Dataset,
    indices: &[u32],
    cnn: bool,
) -> Result<(CandleTensor, CandleTensor), Error> {
    let mut pixels = Vec::with_capacity(indices.len() * 784);
    let mut labels = Vec::with_capacity(indices.len());
    for &index in indices {
        let (image, label) = train.sample(index as usize)?;
        pixels.extend(
            image
                .iter()
                .map(|&p| (p as f32 / 255.0 - PIXEL_MEAN) / PIXEL_DEVIATION),
        );
        labels.push(label as u32);
    }
    let n = indices.len();
    let x = if cnn {
        CandleTensor::from_vec(pixels, (n, 1, 28, 28), &Device::Cpu)?
    } else {
        CandleTensor::from_vec(pixels, (n, 784), &Device::Cpu)?
    };
    Ok((x, CandleTensor::from_vec(labels, n, &Device::Cpu)?))
}

/// candle's time per minibatch (data preparation included, as surety's gather steps are).
fn candle_ms(train: &Dataset, name: &str, batch: usize) -> Result<Timing, Error> {
    let trainer = Trainer::new(
        config(name, batch, Schedule::constant(0.01)),
        train,
        (0..train.len() as u32).collect(),
    )?;
    let net = CandleNet::new(name, &trainer.initial_state(1)?)?;
    let mut sgd = candle_nn::SGD::new(net.varmap.all_vars(), 0.01)?;
    let order = trainer.epoch_order(0);
    let step = |sgd: &mut candle_nn::SGD, t: usize| -> Result<(), Error> {
        let (x, y) = candle_batch(train, &order[t * batch..(t + 1) * batch], net.cnn)?;
        let loss = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
        sgd.backward_step(&loss)?;
        Ok(())
    };
    step(&mut sgd, 0)?;
    step(&mut sgd, 1)?;
    let count = timed_minibatches(name, batch);
    Timing::of(count, || {
        for t in 2..2 + count as usize {
            step(&mut sgd, t)?;
        }
        Ok(())
    })
}

const CASES: [(&str, usize); 4] = [("mlp", 32), ("mlp", 128), ("cnn", 32), ("cnn", 128)];

/// The cases of parts 1 and 2: all, or only the models named in `MODELS` (e.g. `MODELS=mlp`).
fn cases() -> Vec<(&'static str, usize)> {
    let models = std::env::var("MODELS").unwrap_or_else(|_| "mlp,cnn".into());
    CASES
        .into_iter()
        .filter(|(name, _)| models.split(',').any(|m| m == *name))
        .collect()
}

/// Child mode: candle's figures on this process's thread count, one JSON line each.
fn candle_child(train: &Dataset) -> Result<(), Error> {
    for (name, batch) in cases() {
        let timing = candle_ms(train, name, batch)?;
        println!(
            "{}",
            serde_json::json!({ "model": name, "batch": batch, "ms": timing.wall_ms, "cpu_ms": timing.cpu_ms })
        );
    }
    Ok(())
}

fn candle_figures(data: &str, threads: usize) -> Result<Vec<Timing>, Error> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .args(["candle-child", data])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()?;
    if !output.status.success() {
        return Err(format!("candle child: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let mut figures = Vec::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        figures.push(Timing {
            wall_ms: value["ms"].as_f64().ok_or("ms")?,
            cpu_ms: value["cpu_ms"].as_f64().ok_or("cpu_ms")?,
        });
    }
    Ok(figures)
}

/// The load average, printed beside the figures (the benchmark machine is shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `ROUNDS` rounds (default 1), each timing candle then surety for every case on 1 and then 2
/// threads; each side's figure is its fastest round, so both sides get the same treatment
/// against noise from other work on the machine. Wall time is the figure; CPU time (the
/// process's, all threads) is printed beside it, and on one thread it is the steadier
/// comparison on a shared machine.
fn speed_table(train: &Dataset, data: &str) -> Result<(), Error> {
    let rounds: usize = std::env::var("ROUNDS").map_or(Ok(1), |r| r.parse())?;
    let cases = cases();
    let slowest = Timing {
        wall_ms: f64::MAX,
        cpu_ms: f64::MAX,
    };
    let mut best = vec![(slowest, slowest); 2 * cases.len()];
    let load_before = load_average();
    for _ in 0..rounds {
        for (t, threads) in [1, 2].into_iter().enumerate() {
            let candle = candle_figures(data, threads)?;
            for (c, ((name, batch), candle_timing)) in cases.iter().zip(candle).enumerate() {
                let surety = surety_ms(train, name, *batch, threads)?;
                let entry = &mut best[t * cases.len() + c];
                *entry = (entry.0.min(surety), entry.1.min(candle_timing));
            }
        }
    }
    println!("## time per minibatch (ms), surety-infer traced training vs candle-nn SGD\n");
    println!(
        "fastest of {rounds} round(s); load average {load_before} before, {} after\n",
        load_average()
    );
    println!("| model | batch | threads | surety (ms) | candle (ms) | surety / candle | surety CPU (ms) | candle CPU (ms) | CPU ratio |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (t, threads) in [1, 2].into_iter().enumerate() {
        for (c, (name, batch)) in cases.iter().enumerate() {
            let (surety, candle) = best[t * cases.len() + c];
            println!(
                "| {name} | {batch} | {threads} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                surety.wall_ms,
                candle.wall_ms,
                surety.wall_ms / candle.wall_ms,
                surety.cpu_ms,
                candle.cpu_ms,
                surety.cpu_ms / candle.cpu_ms
            );
        }
    }
    Ok(())
}

/// The slowest step's `execute_step` plus hashing its result, against one traced minibatch.
fn execute_step_cost(train: &Dataset) -> Result<(), Error> {
    println!("\n## execute_step of the largest step, one thread\n");
    println!("| model | batch | largest step | execute_step + hash (ms) | traced minibatch (ms) | fraction |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let executor = Executor::new(1)?;
    for (name, batch) in cases() {
        let trainer = Trainer::new(
            config(name, batch, Schedule::constant(0.01)),
            train,
            (0..train.len() as u32).collect(),
        )?;
        let state = trainer
            .run(&executor, trainer.initial_state(1)?, 0, 1)?
            .state;
        // The fastest of three runs of each, against noise from other work on the machine.
        let mut minibatch = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            std::hint::black_box(trainer.run(&executor, state.clone(), 1, 1)?.trace.root());
            minibatch = minibatch.min(start.elapsed().as_secs_f64() * 1e3);
        }
        let per_minibatch = trainer.steps_per_minibatch() as u64;
        let steps = trainer.minibatch_steps(1)?;
        let mut activation = state;
        let (mut worst, mut worst_label) = (0.0f64, String::new());
        for index in 0..per_minibatch {
            let mut ms = f64::MAX;
            let mut next = None;
            for _ in 0..3 {
                let start = Instant::now();
                let after = trainer.execute_step(&executor, per_minibatch + index, &activation)?;
                std::hint::black_box(training_state_hash(&after));
                ms = ms.min(start.elapsed().as_secs_f64() * 1e3);
                next = Some(after);
            }
            let next = next.ok_or("no run")?;
            if ms > worst {
                (worst, worst_label) = (ms, steps[index as usize].label());
            }
            activation = next;
        }
        println!(
            "| {name} | {batch} | {worst_label} | {worst:.2} | {minibatch:.2} | {:.1} % |",
            100.0 * worst / minibatch
        );
    }
    Ok(())
}

/// Centralised training, test accuracy after each epoch; the last epoch's learning rate is a
/// tenth of the others' (a schedule piece).
fn accuracy_curve(
    train: &Dataset,
    test: &Dataset,
    name: &str,
    epochs: u64,
    batch: usize,
    learning_rate: f32,
) -> Result<Vec<f64>, Error> {
    let per_epoch = (train.len() / batch) as u64;
    let schedule = Schedule {
        pieces: vec![
            (0, learning_rate),
            ((epochs - 1).max(1) * per_epoch, learning_rate / 10.0),
        ],
    };
    let trainer = Trainer::new(
        config(name, batch, schedule),
        train,
        (0..train.len() as u32).collect(),
    )?;
    let executor = Executor::new(2)?;
    let mut state = trainer.initial_state(1)?;
    let mut accuracies = Vec::new();
    for epoch in 0..epochs {
        let start = Instant::now();
        let run = trainer.run(&executor, state, epoch * per_epoch, per_epoch)?;
        state = run.state;
        let accuracy = evaluate(&executor, &network(name), &state, test, 250)?;
        println!(
            "| {name} | {} | {:.2} % | {:.1} s | {} |",
            epoch + 1,
            100.0 * accuracy,
            start.elapsed().as_secs_f64(),
            training_state_hash(&state)
        );
        accuracies.push(accuracy);
    }
    Ok(accuracies)
}

fn plot(path: &str, curves: &[(&str, &[f64])]) -> Result<(), Error> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (640, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let epochs = curves.iter().map(|(_, c)| c.len()).max().unwrap_or(1);
    let low = curves
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .fold(1.0f64, f64::min)
        .min(0.97)
        * 100.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "MNIST test accuracy per epoch (surety-infer, bit-exact training)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(1f64..epochs as f64, (low - 0.2)..100.0)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("test accuracy (%)")
        .draw()?;
    for ((name, curve), colour) in curves.iter().zip([&BLUE, &RED]) {
        chart
            .draw_series(LineSeries::new(
                curve
                    .iter()
                    .enumerate()
                    .map(|(i, a)| ((i + 1) as f64, 100.0 * a)),
                colour,
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: candle-train-reference <data dir> <plot.svg> [mlp epochs] [cnn epochs]";
    let data = args.get(1).ok_or(usage)?;
    if data == "candle-child" {
        let train = load(
            Path::new(args.get(2).ok_or(usage)?),
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
        )?;
        return candle_child(&train);
    }
    let svg = args.get(2).ok_or(usage)?;
    let mlp_epochs: u64 = args.get(3).map_or(Ok(6), |a| a.parse())?;
    let cnn_epochs: u64 = args.get(4).map_or(Ok(4), |a| a.parse())?;
    let train = load(
        Path::new(data),
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
    )?;
    let test = load(
        Path::new(data),
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )?;
    if std::env::var_os("SKIP_SPEED").is_none() {
        speed_table(&train, data)?;
        execute_step_cost(&train)?;
    }
    if std::env::var_os("SKIP_ACCURACY").is_some() {
        return Ok(());
    }
    println!("\n## centralised training: test accuracy after each epoch (2 threads)\n");
    println!("| model | epoch | test accuracy | epoch time | state hash |");
    println!("| --- | --- | --- | --- | --- |");
    let mlp = accuracy_curve(&train, &test, "mlp", mlp_epochs, 32, 0.01)?;
    let cnn = accuracy_curve(&train, &test, "cnn", cnn_epochs, 64, 0.02)?;
    plot(
        svg,
        &[
            ("MLP 784-256-10, batch 32", &mlp),
            ("CNN 2×conv+pool, dense, batch 64", &cnn),
        ],
    )?;
    println!("\nplot written to {svg}");
    Ok(())
}
