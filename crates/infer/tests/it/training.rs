//! Training: gradients against float64 finite differences, bit-identical runs across thread
//! counts, every traced step replayed by the referee, and accuracy on real MNIST.

use crate::common;
use surety_infer::models::mlp::{CnnConfig, ConvLayer, MlpConfig};
use surety_infer::train::dataset::{sample_leaf, Dataset};
use surety_infer::train::network::Network;
use surety_infer::train::ops::{PIXEL_DEVIATION, PIXEL_MEAN};
use surety_infer::train::{evaluate, training_state_hash, Schedule, Sgd, Trainer, TrainingConfig};
use surety_infer::{Activation, Executor, InferError};

/// A synthetic dataset of `count` `side × side` images with 3 classes.
fn tiny_dataset(count: usize, side: usize) -> Dataset {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u8
    };
    let images = (0..count * side * side).map(|_| next()).collect();
    let labels = (0..count).map(|i| (i % 3) as u8).collect();
    Dataset::new(images, labels, side, side).expect("valid dataset")
}

fn tiny_mlp() -> Network {
    Network::Mlp(MlpConfig {
        widths: vec![36, 7, 5, 3],
    })
}

fn tiny_cnn() -> Network {
    let conv = |out_channels, pool| ConvLayer {
        out_channels,
        kernel: 3,
        padding: 1,
        pool,
    };
    Network::Cnn(CnnConfig {
        channels: 1,
        height: 6,
        width: 6,
        convs: vec![conv(3, 2), conv(4, 1)],
        dense: vec![5, 3],
    })
}

fn config(network: Network, batch: usize, learning_rate: f32) -> TrainingConfig {
    TrainingConfig {
        network,
        optimiser: Sgd {
            momentum: 0.9,
            weight_decay: 1e-4,
            schedule: Schedule::constant(learning_rate),
        },
        batch,
        seed: 5,
    }
}

/// Float64 reference of the networks' mean loss, written independently of the engine.
mod reference {
    use super::*;

    pub type Parameters = Vec<(String, Vec<usize>, Vec<f64>)>;

    fn get<'a>(parameters: &'a Parameters, name: &str) -> &'a [f64] {
        &parameters
            .iter()
            .find(|(n, _, _)| n == name)
            .expect("parameter")
            .2
    }

    fn dense(x: &[f64], n: usize, w: &[f64], b: &[f64], relu: bool) -> Vec<f64> {
        let (outer, inner) = (b.len(), x.len() / n);
        let mut y = vec![0.0; n * outer];
        for i in 0..n {
            for o in 0..outer {
                let v = b[o]
                    + (0..inner)
                        .map(|k| x[i * inner + k] * w[o * inner + k])
                        .sum::<f64>();
                y[i * outer + o] = if relu { v.max(0.0) } else { v };
            }
        }
        y
    }

    /// `[n, c, h, w]` → conv (stride 1, padding) → ReLU → `pool × pool` max pooling.
    fn conv_block(
        x: &[f64],
        shape: [usize; 4],
        w: &[f64],
        b: &[f64],
        padding: usize,
        pool: usize,
    ) -> (Vec<f64>, [usize; 4]) {
        let [n, c, h, wd] = shape;
        let out = b.len();
        let k = ((w.len() / out / c) as f64).sqrt() as usize;
        let (oh, ow) = (h + 2 * padding + 1 - k, wd + 2 * padding + 1 - k);
        let mut y = vec![0.0; n * out * oh * ow];
        for i in 0..n {
            for o in 0..out {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut v = b[o];
                        for ci in 0..c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (yy, xx) = (
                                        (oy + ky) as isize - padding as isize,
                                        (ox + kx) as isize - padding as isize,
                                    );
                                    if yy >= 0 && xx >= 0 && (yy as usize) < h && (xx as usize) < wd
                                    {
                                        v += x[((i * c + ci) * h + yy as usize) * wd + xx as usize]
                                            * w[((o * c + ci) * k + ky) * k + kx];
                                    }
                                }
                            }
                        }
                        y[((i * out + o) * oh + oy) * ow + ox] = v.max(0.0);
                    }
                }
            }
        }
        let (ph, pw) = (oh / pool, ow / pool);
        let mut pooled = vec![f64::NEG_INFINITY; n * out * ph * pw];
        for plane in 0..n * out {
            for py in 0..ph {
                for px in 0..pw {
                    for dy in 0..pool {
                        for dx in 0..pool {
                            let v = y[(plane * oh + py * pool + dy) * ow + px * pool + dx];
                            let slot = &mut pooled[(plane * ph + py) * pw + px];
                            *slot = slot.max(v);
                        }
                    }
                }
            }
        }
        (pooled, [n, out, ph, pw])
    }

    fn mean_cross_entropy(logits: &[f64], labels: &[u8], classes: usize) -> f64 {
        let n = labels.len();
        let mut total = 0.0;
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
            total += sum.ln() - (row[label as usize] - max);
        }
        total / n as f64
    }

    pub fn loss(
        network: &Network,
        parameters: &Parameters,
        dataset: &Dataset,
        indices: &[u32],
    ) -> f64 {
        let n = indices.len();
        let mut x = Vec::new();
        let mut labels = Vec::new();
        for &index in indices {
            let (pixels, label) = dataset.sample(index as usize).expect("sample");
            x.extend(
                pixels
                    .iter()
                    .map(|&p| (p as f64 / 255.0 - PIXEL_MEAN as f64) / PIXEL_DEVIATION as f64),
            );
            labels.push(label);
        }
        let (prefix, dense_count) = match network {
            Network::Mlp(config) => ("layers", config.widths.len() - 1),
            Network::Cnn(config) => {
                let (height, width) = dataset.image_size();
                let mut shape = [n, 1, height, width];
                for (i, conv) in config.convs.iter().enumerate() {
                    let w = get(parameters, &format!("conv.{i}.weight"));
                    let b = get(parameters, &format!("conv.{i}.bias"));
                    (x, shape) =
                        conv_block(&x, shape, w, b, conv.padding as usize, conv.pool as usize);
                }
                ("dense", config.dense.len())
            }
        };
        for i in 0..dense_count {
            let w = get(parameters, &format!("{prefix}.{i}.weight"));
            let b = get(parameters, &format!("{prefix}.{i}.bias"));
            x = dense(&x, n, w, b, i + 1 < dense_count);
        }
        mean_cross_entropy(&x, &labels, x.len() / n)
    }
}

/// The engine's gradients of minibatch 0 and the float64 central differences of the float64
/// reference loss at the same parameters agree to 1e-4 of each gradient's norm.
fn gradients_match_finite_differences(network: Network) {
    let dataset = tiny_dataset(40, 6);
    let trainer = Trainer::new(config(network.clone(), 8, 0.1), &dataset, (0..40).collect())
        .expect("trainer");
    let executor = Executor::new(1).expect("executor");
    let state = trainer.initial_state(11).expect("state");
    let steps = trainer.minibatch_steps(0).expect("steps");
    let first_update = steps
        .iter()
        .position(|s| s.label().starts_with("Momentum"))
        .expect("an update");
    let before_update = trainer
        .activation_before(&executor, state.clone(), 0, first_update as u64)
        .expect("runs");
    let indices = trainer.minibatch_indices(0);
    let mut parameters: reference::Parameters = network
        .parameters()
        .expect("parameters")
        .into_iter()
        .map(|p| {
            let values = state
                .f32(&p.name)
                .expect("slot")
                .1
                .iter()
                .map(|&v| v as f64)
                .collect();
            (p.name, p.shape, values)
        })
        .collect();
    let step = 1e-6;
    for index in 0..parameters.len() {
        let name = parameters[index].0.clone();
        let engine = before_update
            .f32(&format!("gradient.{name}"))
            .expect("gradient")
            .1
            .to_vec();
        let mut numeric = Vec::with_capacity(engine.len());
        for k in 0..engine.len() {
            let original = parameters[index].2[k];
            parameters[index].2[k] = original + step;
            let up = reference::loss(&network, &parameters, &dataset, &indices);
            parameters[index].2[k] = original - step;
            let down = reference::loss(&network, &parameters, &dataset, &indices);
            parameters[index].2[k] = original;
            numeric.push((up - down) / (2.0 * step));
        }
        let norm = numeric.iter().map(|v| v * v).sum::<f64>().sqrt();
        let error = engine
            .iter()
            .zip(&numeric)
            .map(|(e, n)| (*e as f64 - n).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(norm > 0.0, "{name}: zero gradient");
        assert!(
            error <= 1e-4 * norm,
            "{name}: error {error:e} against norm {norm:e}"
        );
    }
}

#[test]
fn mlp_gradients_agree_with_float64_finite_differences() {
    gradients_match_finite_differences(tiny_mlp());
}

#[test]
fn cnn_gradients_agree_with_float64_finite_differences() {
    gradients_match_finite_differences(tiny_cnn());
}

/// Every step of the first two minibatches, replayed by the referee from the activation
/// before it (after a bytes round trip), gives the trace's leaf, whose proof verifies.
fn every_step_replays(network: Network, dataset: &Dataset, batch: usize) {
    let trainer = Trainer::new(
        config(network, batch, 0.05),
        dataset,
        (0..dataset.len() as u32).collect(),
    )
    .expect("trainer");
    let executor = Executor::new(2).expect("executor");
    let state = trainer.initial_state(3).expect("state");
    let run = trainer.run(&executor, state.clone(), 0, 2).expect("runs");
    assert_eq!(run.trace.len(), 2 * trainer.steps_per_minibatch());
    let mut activation = state;
    for index in 0..run.trace.len() {
        let received = Activation::from_bytes(&activation.to_bytes()).expect("decodes");
        activation = trainer
            .execute_step(&executor, index as u64, &received)
            .expect("replays");
        let hash = training_state_hash(&activation);
        assert_eq!(hash, run.trace.step_hashes[index], "step {index}");
        let proof = run.trace.proof(index).expect("in range");
        assert!(proof.verify(&run.trace.root(), hash.as_bytes()).is_ok());
    }
    assert_eq!(
        training_state_hash(&activation),
        training_state_hash(&run.state)
    );
}

#[test]
fn the_referee_reproduces_every_step_of_tiny_training_runs() {
    let dataset = tiny_dataset(40, 6);
    every_step_replays(tiny_mlp(), &dataset, 8);
    every_step_replays(tiny_cnn(), &dataset, 8);
}

#[test]
fn the_referee_reproduces_every_step_of_mnist_minibatches() {
    let Some((train, _)) = common::mnist() else {
        return;
    };
    every_step_replays(Network::mnist_mlp(), &train, 32);
    every_step_replays(Network::mnist_cnn(), &train, 16);
}

#[test]
fn a_minibatch_names_its_samples_and_the_referee_checks_them_against_the_dataset_root() {
    let dataset = tiny_dataset(40, 6);
    let trainer =
        Trainer::new(config(tiny_mlp(), 8, 0.1), &dataset, (0..40).collect()).expect("trainer");
    let indices = trainer.minibatch_indices(3);
    assert_eq!(indices.len(), 8);
    for &index in &indices {
        let (pixels, label) = dataset.sample(index as usize).expect("in range");
        let proof = dataset.proof(index as usize).expect("in range");
        assert!(proof
            .verify(&dataset.root(), &sample_leaf(label, pixels))
            .is_ok());
    }
    // One epoch reads every sample of the shard once.
    let mut epoch: Vec<u32> = (0..trainer.minibatches_per_epoch())
        .flat_map(|t| trainer.minibatch_indices(t))
        .collect();
    epoch.sort_unstable();
    assert_eq!(epoch, (0..40).collect::<Vec<u32>>());
}

#[test]
fn a_wrong_gradient_changes_the_leaf_of_the_step_that_reads_it() {
    let dataset = tiny_dataset(40, 6);
    let trainer =
        Trainer::new(config(tiny_mlp(), 8, 0.1), &dataset, (0..40).collect()).expect("trainer");
    let executor = Executor::new(1).expect("executor");
    let state = trainer.initial_state(1).expect("state");
    let run = trainer.run(&executor, state.clone(), 0, 1).expect("runs");
    let steps = trainer.minibatch_steps(0).expect("steps");
    let update = steps
        .iter()
        .position(|s| s.label().starts_with("Momentum"))
        .expect("an update");
    let mut forged = trainer
        .activation_before(&executor, state, 0, update as u64)
        .expect("runs");
    let slot = &steps[update].inputs[1];
    let (shape, values) = forged.f32(slot).expect("gradient");
    let mut values = values.to_vec();
    values[0] = f32::from_bits(values[0].to_bits() ^ 1);
    forged.set(slot, surety_infer::Tensor::f32(shape.to_vec(), values));
    let after = trainer
        .execute_step(&executor, update as u64, &forged)
        .expect("runs");
    assert_ne!(training_state_hash(&after), run.trace.step_hashes[update]);
}

#[test]
fn a_referee_refuses_a_malformed_training_state_with_a_typed_error() {
    let dataset = tiny_dataset(40, 6);
    let trainer =
        Trainer::new(config(tiny_cnn(), 8, 0.1), &dataset, (0..40).collect()).expect("trainer");
    let executor = Executor::new(1).expect("executor");
    let state = trainer.initial_state(1).expect("state");
    let mut missing = state.clone();
    missing.slots.pop();
    assert!(matches!(
        trainer.execute_step(&executor, 0, &missing),
        Err(InferError::MalformedActivation(_))
    ));
    let mut reshaped = state.clone();
    reshaped.slots[0].1.shape.reverse();
    assert!(trainer.execute_step(&executor, 0, &reshaped).is_err());
    // Every later step of the first minibatch on the bare state (its inputs missing) errs.
    for index in 2..trainer.steps_per_minibatch() as u64 {
        let _ = trainer.execute_step(&executor, index, &state);
    }
    assert!(Trainer::new(config(tiny_cnn(), 8, 0.1), &dataset, vec![0, 1, 2, 400]).is_err());
}

fn fingerprint(
    network: Network,
    dataset: &Dataset,
    batch: usize,
    minibatches: u64,
    threads: usize,
) -> (String, String) {
    let trainer = Trainer::new(
        config(network, batch, 0.05),
        dataset,
        (0..dataset.len() as u32).collect(),
    )
    .expect("trainer");
    let executor = Executor::new(threads).expect("executor");
    let state = trainer.initial_state(7).expect("state");
    let run = trainer.run(&executor, state, 0, minibatches).expect("runs");
    (
        training_state_hash(&run.state).to_string(),
        run.trace.root().to_string(),
    )
}

#[test]
fn training_is_bit_identical_on_one_two_and_four_threads() {
    let dataset = tiny_dataset(64, 6);
    for network in [tiny_mlp(), tiny_cnn()] {
        let one = fingerprint(network.clone(), &dataset, 16, 12, 1);
        assert_eq!(one, fingerprint(network.clone(), &dataset, 16, 12, 2));
        assert_eq!(one, fingerprint(network, &dataset, 16, 12, 4));
    }
    let Some((train, _)) = common::mnist() else {
        return;
    };
    for (network, minibatches) in [(Network::mnist_mlp(), 100), (Network::mnist_cnn(), 5)] {
        let one = fingerprint(network.clone(), &train, 32, minibatches, 1);
        assert_eq!(
            one,
            fingerprint(network.clone(), &train, 32, minibatches, 2)
        );
        assert_eq!(one, fingerprint(network, &train, 32, minibatches, 4));
    }
}

#[test]
fn trained_parameters_give_the_inference_model_the_same_logits() {
    let dataset = tiny_dataset(40, 6);
    let executor = Executor::new(2).expect("executor");
    for network in [tiny_mlp(), tiny_cnn()] {
        let trainer = Trainer::new(config(network.clone(), 8, 0.1), &dataset, (0..40).collect())
            .expect("trainer");
        let state = trainer
            .run(&executor, trainer.initial_state(2).expect("state"), 0, 3)
            .expect("runs")
            .state;
        let model = network.to_model("trained", &state).expect("loads");
        let (forward, logits) = network.forward_steps().expect("steps");
        assert!(!forward.is_empty());
        // Accuracy through the training forward equals accuracy through the inference model.
        let accuracy = evaluate(&executor, &network, &state, &dataset, 7).expect("evaluates");
        let mut correct = 0;
        for index in 0..dataset.len() {
            let (pixels, label) = dataset.sample(index).expect("sample");
            let values: Vec<f32> = pixels
                .iter()
                .map(|&p| (p as f32 / 255.0 - PIXEL_MEAN) / PIXEL_DEVIATION)
                .collect();
            let output = match &network {
                Network::Mlp(_) => {
                    surety_infer::models::mlp::classify_rows(&model, &executor, 36, &values)
                }
                Network::Cnn(_) => {
                    surety_infer::models::mlp::classify_image(&model, &executor, [1, 6, 6], &values)
                }
            }
            .expect("classifies")
            .0;
            correct += usize::from(surety_infer::kernels::argmax(&output) == label as u32);
        }
        let _ = logits;
        assert_eq!(accuracy, correct as f64 / dataset.len() as f64);
    }
}

#[test]
fn one_epoch_of_the_mlp_on_mnist_reaches_95_percent_test_accuracy() {
    let Some((train, test)) = common::mnist() else {
        return;
    };
    let network = Network::mnist_mlp();
    let trainer = Trainer::new(
        config(network.clone(), 32, 0.01),
        &train,
        (0..train.len() as u32).collect(),
    )
    .expect("trainer");
    let executor = Executor::new(2).expect("executor");
    let state = trainer.initial_state(1).expect("state");
    let run = trainer
        .run(&executor, state, 0, trainer.minibatches_per_epoch())
        .expect("trains");
    let accuracy = evaluate(&executor, &network, &run.state, &test, 1000).expect("evaluates");
    eprintln!(
        "MLP after one epoch: test accuracy {accuracy:.4}, last loss {:?}",
        run.losses.last()
    );
    assert!(accuracy >= 0.95, "test accuracy {accuracy}");
}

#[derive(serde::Deserialize)]
struct GoldenStep {
    loss: f64,
    gradients: std::collections::BTreeMap<String, Vec<f64>>,
    parameters: std::collections::BTreeMap<String, Vec<f64>>,
    velocities: std::collections::BTreeMap<String, Vec<f64>>,
}

#[derive(serde::Deserialize)]
struct GoldenCase {
    initial: std::collections::BTreeMap<String, Vec<f64>>,
    order: Vec<String>,
    steps: Vec<GoldenStep>,
}

#[derive(serde::Deserialize)]
struct Golden {
    learning_rate: f32,
    momentum: f32,
    weight_decay: f32,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    side: usize,
    mlp: GoldenCase,
    cnn: GoldenCase,
}

/// `actual` within `1e-5` of `expected`, relative to the tensor's largest magnitude.
fn assert_close(what: &str, actual: &[f32], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (*a as f64 - e).abs())
        .fold(0.0, f64::max);
    eprintln!("{what}: relative error {:.1e}", worst / scale);
    assert!(
        worst <= 1e-5 * scale,
        "{what}: error {worst:e}, scale {scale:e}"
    );
}

fn agree_with_golden(network: Network, case: &GoldenCase, golden: &Golden, dataset: &Dataset) {
    let mut config = config(network.clone(), 8, golden.learning_rate);
    config.optimiser.momentum = golden.momentum;
    config.optimiser.weight_decay = golden.weight_decay;
    let trainer = Trainer::new(config, dataset, (0..8).collect()).expect("trainer");
    let executor = Executor::new(1).expect("executor");
    let mut state = trainer.initial_state(0).expect("state");
    let names: Vec<String> = network
        .parameters()
        .expect("parameters")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, case.order);
    for name in &names {
        let shape = state.f32(name).expect("slot").0.to_vec();
        let values = case.initial[name].iter().map(|&v| v as f32).collect();
        state.set(name, surety_infer::Tensor::f32(shape, values));
    }
    let steps = trainer.minibatch_steps(0).expect("steps");
    let first_update = steps
        .iter()
        .position(|s| s.label().starts_with("Momentum"))
        .expect("an update");
    let gradients = trainer
        .activation_before(&executor, state.clone(), 0, first_update as u64)
        .expect("runs");
    for name in &names {
        let gradient = gradients
            .f32(&format!("gradient.{name}"))
            .expect("gradient")
            .1;
        assert_close(
            &format!("gradient of {name}"),
            gradient,
            &case.steps[0].gradients[name],
        );
    }
    let run = trainer.run(&executor, state, 0, 2).expect("runs");
    for (step, expected) in case.steps.iter().enumerate() {
        let loss = run.losses[step] as f64;
        assert!(
            (loss - expected.loss).abs() <= 1e-5 * expected.loss,
            "loss {step}: {loss} vs {}",
            expected.loss
        );
    }
    let last = &case.steps[1];
    for name in &names {
        assert_close(
            name,
            run.state.f32(name).expect("slot").1,
            &last.parameters[name],
        );
        let velocity = run.state.f32(&format!("velocity.{name}")).expect("slot").1;
        assert_close(
            &format!("velocity of {name}"),
            velocity,
            &last.velocities[name],
        );
    }
}

#[test]
fn two_training_steps_agree_with_the_float64_numpy_reference() {
    let golden: Golden = serde_json::from_str(include_str!("../golden/training_golden.json"))
        .expect("golden parses");
    let dataset = Dataset::new(
        golden.pixels.clone(),
        golden.labels.clone(),
        golden.side,
        golden.side,
    )
    .expect("dataset");
    let mlp = Network::Mlp(MlpConfig {
        widths: vec![64, 16, 10],
    });
    agree_with_golden(mlp, &golden.mlp, &golden, &dataset);
    let conv = |out_channels| ConvLayer {
        out_channels,
        kernel: 3,
        padding: 1,
        pool: 2,
    };
    let cnn = Network::Cnn(CnnConfig {
        channels: 1,
        height: 8,
        width: 8,
        convs: vec![conv(4), conv(6)],
        dense: vec![10],
    });
    agree_with_golden(cnn, &golden.cnn, &golden, &dataset);
}
