//! Bit-reproducible training (DESIGN §4 rules, for federated learning, DESIGN §6): a
//! participant's update can be re-executed by anyone, bit for bit, and a wrong one is proven
//! the way a wrong inference is, by recomputing one step.
//!
//! A training run is a trace: minibatch `t` of a [`Trainer`] is a fixed list of steps (gather
//! the minibatch's images and labels by sample index from the committed [`Dataset`], forward,
//! loss, backward, then momentum and descent for every parameter), and the run of minibatches
//! `0..K` is the concatenation, step `t · S + s` for `S` steps per minibatch. The state between
//! steps is an [`Activation`] holding the parameters, their velocities, and whatever later
//! steps of the minibatch still read (activations, gradients); its hash after every step is a
//! trace leaf. [`Trainer::execute_step`] recomputes any one step from the activation before it.
//!
//! The state hash is two-level so that a step costs hashing only what it wrote: each slot is
//! hashed alone (the [`Activation::hash`] of a one-slot activation), and
//! [`training_state_hash`] is `H("surety.infer.training_state", slot count, slot hashes…)`.
//!
//! It must never: order a sum by thread completion, read the clock, the environment or OS
//! randomness, or trust the activation or the indices handed to a referee.

pub mod dataset;
pub mod gradients;
pub mod network;
pub mod ops;
pub mod random;

use crate::error::{InferError, Result};
use crate::kernels::{self, Executor};
use crate::model::Trace;
use crate::tensor::{slot_hash, slot_hash_on_threads, Activation};
use dataset::Dataset;
use network::Network;
use ops::{compute, Context, TrainOp, TrainStep};
use random::Random;
use surety_types::Hash;

const STATE_DOMAIN: &str = "surety.infer.training_state";

/// The learning rate as data: piece `i` holds from minibatch `pieces[i].0` on, until the next
/// piece starts. The first piece must start at minibatch 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// `(first minibatch, learning rate)`, in increasing minibatch order.
    pub pieces: Vec<(u64, f32)>,
}

impl Schedule {
    /// One learning rate throughout.
    pub fn constant(learning_rate: f32) -> Schedule {
        Schedule {
            pieces: vec![(0, learning_rate)],
        }
    }

    /// The learning rate of minibatch `minibatch`.
    pub fn learning_rate(&self, minibatch: u64) -> f32 {
        self.pieces
            .iter()
            .take_while(|(start, _)| *start <= minibatch)
            .last()
            .map_or(0.0, |(_, rate)| *rate)
    }

    fn check(&self) -> Result<()> {
        let ordered = self.pieces.windows(2).all(|pair| pair[0].0 < pair[1].0);
        if self.pieces.first().map(|piece| piece.0) != Some(0) || !ordered {
            return Err(InferError::UnsupportedConfig(
                "a schedule starts at minibatch 0 and increases".into(),
            ));
        }
        Ok(())
    }
}

/// SGD with momentum and L2 weight decay, as PyTorch's `torch.optim.SGD` defines them.
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd {
    /// Momentum factor (0: plain SGD).
    pub momentum: f32,
    /// Weight decay added to the gradient as `weight_decay · parameter`.
    pub weight_decay: f32,
    /// Learning rate per minibatch.
    pub schedule: Schedule,
}

/// Everything that fixes a training run besides the dataset and the initial state.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingConfig {
    /// The network trained.
    pub network: Network,
    /// The optimiser.
    pub optimiser: Sgd,
    /// Samples per minibatch; a shard's last partial minibatch of an epoch is dropped.
    pub batch: usize,
    /// Seed of the sample order (each epoch shuffles the shard with stream `epoch`).
    pub seed: u64,
}

/// A training run over one shard of a committed dataset.
pub struct Trainer<'a> {
    config: TrainingConfig,
    dataset: &'a Dataset,
    shard: Vec<u32>,
    /// Live slots after each step of a minibatch (the same for every minibatch).
    live_after: Vec<Vec<String>>,
}

/// What [`Trainer::run`] returns.
pub struct TrainingRun {
    /// Parameters and velocities after the last minibatch.
    pub state: Activation,
    /// One leaf per step of every minibatch run.
    pub trace: Trace,
    /// The mean loss of each minibatch.
    pub losses: Vec<f32>,
}

/// An activation with each slot's hash kept beside it, so a step rehashes only its output.
struct HashedState {
    activation: Activation,
    hashes: Vec<Hash>,
}

impl HashedState {
    fn new(activation: Activation) -> HashedState {
        let hashes = activation
            .slots
            .iter()
            .map(|(name, tensor)| slot_hash(name, tensor))
            .collect();
        HashedState { activation, hashes }
    }

    fn write(
        &mut self,
        executor: &Executor,
        name: &str,
        tensor: crate::tensor::Tensor,
        live: &[String],
    ) {
        self.activation.set(name, tensor);
        self.rehash(executor, name, live);
    }

    /// After slot `name` was set or changed in place: hash it again (on the executor's
    /// threads: the same hash), then keep only the `live` slots.
    fn rehash(&mut self, executor: &Executor, name: &str, live: &[String]) {
        let Some(index) = self
            .activation
            .slots
            .iter()
            .position(|(slot, _)| slot == name)
        else {
            return;
        };
        let tensor = &self.activation.slots[index].1;
        let hash = if executor.threads() > 1 {
            executor.install(|| slot_hash_on_threads(name, tensor))
        } else {
            slot_hash(name, tensor)
        };
        match self.hashes.get_mut(index) {
            Some(slot) => *slot = hash,
            None => self.hashes.push(hash),
        }
        let keep: Vec<bool> = self
            .activation
            .slots
            .iter()
            .map(|(slot, _)| live.iter().any(|l| l == slot))
            .collect();
        let mut flags = keep.iter();
        self.hashes.retain(|_| *flags.next().unwrap_or(&false));
        self.activation.retain(live);
    }

    fn hash(&self) -> Hash {
        state_hash_of(&self.hashes)
    }
}

fn state_hash_of(hashes: &[Hash]) -> Hash {
    let count = (hashes.len() as u64).to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![&count];
    parts.extend(hashes.iter().map(|hash| hash.as_bytes().as_slice()));
    Hash::of_parts(STATE_DOMAIN, &parts)
}

/// The hash a training trace commits to for `activation`: see the module docs.
pub fn training_state_hash(activation: &Activation) -> Hash {
    let hashes: Vec<Hash> = activation
        .slots
        .iter()
        .map(|(name, tensor)| slot_hash(name, tensor))
        .collect();
    state_hash_of(&hashes)
}

/// Live slots after each step of `steps` when `outputs` must survive the last. A step's own
/// output is always live right after it, so its leaf commits to it even when nothing reads
/// it later (the loss).
fn liveness(steps: &[TrainStep], outputs: &[String]) -> Vec<Vec<String>> {
    let mut live_after = vec![Vec::new(); steps.len()];
    let mut live: Vec<String> = outputs.to_vec();
    for (index, step) in steps.iter().enumerate().rev() {
        live_after[index] = live.clone();
        if !live.contains(&step.output) {
            live_after[index].push(step.output.clone());
        }
        live.retain(|slot| slot != &step.output);
        for input in &step.inputs {
            if !live.contains(input) {
                live.push(input.clone());
            }
        }
    }
    live_after
}

impl<'a> Trainer<'a> {
    /// A trainer of `config` on the samples `shard` (indices into `dataset`).
    pub fn new(
        config: TrainingConfig,
        dataset: &'a Dataset,
        shard: Vec<u32>,
    ) -> Result<Trainer<'a>> {
        config.optimiser.schedule.check()?;
        if config.batch == 0 || config.batch > ops::BATCH_MAX || shard.len() < config.batch {
            return Err(InferError::UnsupportedConfig(format!(
                "a minibatch of {} from a shard of {} samples",
                config.batch,
                shard.len()
            )));
        }
        if let Some(&bad) = shard.iter().find(|&&i| i as usize >= dataset.len()) {
            return Err(InferError::SampleOutOfRange {
                index: bad as usize,
                count: dataset.len(),
            });
        }
        let mut trainer = Trainer {
            config,
            dataset,
            shard,
            live_after: Vec::new(),
        };
        let outputs: Vec<String> = trainer.state_slots()?;
        trainer.live_after = liveness(&trainer.steps(0, &[])?, &outputs);
        Ok(trainer)
    }

    /// The configuration.
    pub fn config(&self) -> &TrainingConfig {
        &self.config
    }

    /// The slots carried from one minibatch to the next: parameters, then velocities.
    fn state_slots(&self) -> Result<Vec<String>> {
        let parameters = self.config.network.parameters()?;
        let mut slots: Vec<String> = parameters.iter().map(|p| p.name.clone()).collect();
        slots.extend(parameters.iter().map(|p| format!("velocity.{}", p.name)));
        Ok(slots)
    }

    /// Whole minibatches in one pass over the shard.
    pub fn minibatches_per_epoch(&self) -> u64 {
        (self.shard.len() / self.config.batch) as u64
    }

    /// Steps in every minibatch.
    pub fn steps_per_minibatch(&self) -> usize {
        self.live_after.len()
    }

    /// The shard in the order of epoch `epoch`.
    pub fn epoch_order(&self, epoch: u64) -> Vec<u32> {
        let mut order = self.shard.clone();
        Random::new(self.config.seed, epoch).shuffle(&mut order);
        order
    }

    /// The dataset indices minibatch `minibatch` reads, given its epoch's order.
    fn indices_in(&self, order: &[u32], minibatch: u64) -> Vec<u32> {
        let within = (minibatch % self.minibatches_per_epoch()) as usize;
        order[within * self.config.batch..(within + 1) * self.config.batch].to_vec()
    }

    /// The dataset indices minibatch `minibatch` reads.
    pub fn minibatch_indices(&self, minibatch: u64) -> Vec<u32> {
        let order = self.epoch_order(minibatch / self.minibatches_per_epoch());
        self.indices_in(&order, minibatch)
    }

    /// The steps of minibatch `minibatch` reading samples `indices`.
    fn steps(&self, minibatch: u64, indices: &[u32]) -> Result<Vec<TrainStep>> {
        let optimiser = &self.config.optimiser;
        let planes = self.config.network.takes_planes();
        let mut steps = vec![
            TrainStep::new(
                TrainOp::GatherImages {
                    indices: indices.to_vec(),
                    planes,
                },
                &[],
                "input",
            ),
            TrainStep::new(
                TrainOp::GatherLabels {
                    indices: indices.to_vec(),
                },
                &[],
                "labels",
            ),
        ];
        steps.extend(self.config.network.training_steps(
            optimiser.momentum,
            optimiser.weight_decay,
            optimiser.schedule.learning_rate(minibatch),
        )?);
        Ok(steps)
    }

    /// The steps of minibatch `minibatch`, as a referee rebuilds them.
    pub fn minibatch_steps(&self, minibatch: u64) -> Result<Vec<TrainStep>> {
        self.steps(minibatch, &self.minibatch_indices(minibatch))
    }

    /// The initial parameters and zero velocities from `seed`.
    pub fn initial_state(&self, seed: u64) -> Result<Activation> {
        self.config.network.initial_state(seed)
    }

    /// Run minibatches `first..first + count` from `state` (the state before minibatch
    /// `first`), hashing the state after every step.
    pub fn run(
        &self,
        executor: &Executor,
        state: Activation,
        first: u64,
        count: u64,
    ) -> Result<TrainingRun> {
        self.check_state(&state)?;
        let context = Context {
            executor,
            dataset: self.dataset,
        };
        let mut hashed = HashedState::new(state);
        let mut step_hashes = Vec::with_capacity(count as usize * self.steps_per_minibatch());
        let mut losses = Vec::with_capacity(count as usize);
        let mut order: Option<(u64, Vec<u32>)> = None;
        for minibatch in first..first + count {
            let epoch = minibatch / self.minibatches_per_epoch();
            if order.as_ref().map(|(e, _)| *e) != Some(epoch) {
                order = Some((epoch, self.epoch_order(epoch)));
            }
            let indices = self.indices_in(&order.as_ref().expect("set above").1, minibatch);
            for (index, step) in self.steps(minibatch, &indices)?.iter().enumerate() {
                // The run owns its state, so an update step overwrites its slot in place.
                if ops::compute_in_place(&context, step, &mut hashed.activation)? {
                    hashed.rehash(executor, &step.output, &self.live_after[index]);
                } else {
                    let output = compute(&context, step, &hashed.activation)?;
                    hashed.write(executor, &step.output, output, &self.live_after[index]);
                }
                step_hashes.push(hashed.hash());
                if step.output == "loss" {
                    losses.push(hashed.activation.f32("loss")?.1[0]);
                }
            }
        }
        Ok(TrainingRun {
            state: hashed.activation,
            trace: Trace::from_step_hashes(step_hashes),
            losses,
        })
    }

    /// The referee: recompute global step `step_index` (minibatch `step_index / S`, step
    /// `step_index % S`) from the activation before it. Compare [`training_state_hash`] of the
    /// result with the trace leaf.
    pub fn execute_step(
        &self,
        executor: &Executor,
        step_index: u64,
        input_activation: &Activation,
    ) -> Result<Activation> {
        let per_minibatch = self.steps_per_minibatch() as u64;
        let (minibatch, index) = (
            step_index / per_minibatch,
            (step_index % per_minibatch) as usize,
        );
        if index == 0 {
            self.check_state(input_activation)?;
        }
        let steps = self.minibatch_steps(minibatch)?;
        let step = &steps[index];
        let context = Context {
            executor,
            dataset: self.dataset,
        };
        let output = compute(&context, step, input_activation)?;
        // Copy only the slots that stay live, then the output in its place.
        let live = &self.live_after[index];
        let mut output = Some(output);
        let mut next = Activation::new();
        for (name, tensor) in &input_activation.slots {
            if name == &step.output {
                if let Some(output) = output.take() {
                    next.set(name, output);
                }
            } else if live.contains(name) {
                next.set(name, tensor.clone());
            }
        }
        if let Some(output) = output {
            next.set(&step.output, output);
        }
        Ok(next)
    }

    /// The activation before global step `step_index` of a run from `state` at minibatch
    /// `first` (for a party revealing it in a dispute, or a test).
    pub fn activation_before(
        &self,
        executor: &Executor,
        state: Activation,
        first: u64,
        step_index: u64,
    ) -> Result<Activation> {
        let per_minibatch = self.steps_per_minibatch() as u64;
        let minibatch = first + step_index / per_minibatch;
        let mut activation = self.run(executor, state, first, minibatch - first)?.state;
        for index in 0..step_index % per_minibatch {
            activation =
                self.execute_step(executor, minibatch * per_minibatch + index, &activation)?;
        }
        Ok(activation)
    }

    /// A state between minibatches holds exactly the parameters and velocities, with their
    /// shapes.
    fn check_state(&self, state: &Activation) -> Result<()> {
        let parameters = self.config.network.parameters()?;
        let expected = self.state_slots()?;
        let names: Vec<&str> = state.slots.iter().map(|(name, _)| name.as_str()).collect();
        if names != expected.iter().map(String::as_str).collect::<Vec<_>>() {
            return Err(InferError::MalformedActivation(format!(
                "a training state holds {expected:?}, not {names:?}"
            )));
        }
        for (index, (name, tensor)) in state.slots.iter().enumerate() {
            let parameter = &parameters[index % parameters.len()];
            if tensor.shape != parameter.shape || state.f32(name).is_err() {
                return Err(InferError::SlotShape {
                    slot: name.clone(),
                    actual: tensor.shape.clone(),
                    reason: format!("expected f32 {:?}", parameter.shape),
                });
            }
        }
        Ok(())
    }
}

/// Test accuracy: the share of `dataset`'s samples whose logits' argmax (first on ties) is
/// their label, running the network's forward steps in minibatches of `batch`.
pub fn evaluate(
    executor: &Executor,
    network: &Network,
    state: &Activation,
    dataset: &Dataset,
    batch: usize,
) -> Result<f64> {
    let (forward, logits) = network.forward_steps()?;
    let context = Context { executor, dataset };
    let mut correct = 0usize;
    let mut start = 0usize;
    while start < dataset.len() {
        let indices: Vec<u32> = (start..(start + batch).min(dataset.len()))
            .map(|i| i as u32)
            .collect();
        let gather = TrainStep::new(
            TrainOp::GatherImages {
                indices: indices.clone(),
                planes: network.takes_planes(),
            },
            &[],
            "input",
        );
        let mut activation = state.clone();
        activation.set("input", compute(&context, &gather, &activation)?);
        for step in &forward {
            let output = compute(&context, step, &activation)?;
            activation.set(&step.output, output);
        }
        let (shape, values) = activation.f32(&logits)?;
        for (row, &index) in values.chunks_exact(shape[1]).zip(&indices) {
            let (_, label) = dataset.sample(index as usize)?;
            correct += usize::from(kernels::argmax(row) == label as u32);
        }
        start += batch;
    }
    Ok(correct as f64 / dataset.len() as f64)
}
