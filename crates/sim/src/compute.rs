//! The real inference each simulated operator runs: the ledger tests' 6-layer MLP (11 steps),
//! registered at genesis, executed with `surety_infer` step by step so that an honest party
//! keeps every activation a dispute may ask for. Also the fabrications cheaters commit: a
//! self-consistent fake trace (any leaves, a Merkle root over them, the fake output last),
//! a run with other weights, and a real run with its last leaf altered (a griefer's claim).
//!
//! Every full run counts one inference in [`Counter`]; the referee's one step counts
//! `1 / steps`. Nothing here touches the ledger.

use surety_infer::models::mlp::MlpConfig;
use surety_infer::program::run_step;
use surety_infer::safetensors_loader::{load_safetensors, save_safetensors_f32};
use surety_infer::{Activation, Architecture, Executor, Model, Tensor, Trace};
use surety_types::Hash;

/// Widths of the served model: 6 linear layers with ReLU between, 11 steps.
pub const WIDTHS: [u64; 7] = [8, 16, 16, 16, 16, 16, 4];
/// The output slot of the MLP.
pub const OUTPUT_SLOT: &str = "logits";

/// Deterministic weights for the MLP; `variant` gives another checkpoint (the ledger tests'
/// generator, so the served model is the one they register).
pub fn weights(variant: u32) -> Vec<u8> {
    let mut state = 0x9e37_79b9u32.wrapping_add(variant);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 2000) as f32 / 1000.0 - 1.0
    };
    let mut tensors = Vec::new();
    for (i, pair) in WIDTHS.windows(2).enumerate() {
        let (inputs, outputs) = (pair[0] as usize, pair[1] as usize);
        let weight: Vec<f32> = (0..inputs * outputs).map(|_| next() * 0.5).collect();
        let bias: Vec<f32> = (0..outputs).map(|_| next() * 0.1).collect();
        tensors.push((format!("layers.{i}.weight"), vec![outputs, inputs], weight));
        tensors.push((format!("layers.{i}.bias"), vec![outputs], bias));
    }
    let refs: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
        .iter()
        .map(|(name, shape, values)| (name.as_str(), shape.clone(), values.clone()))
        .collect();
    save_safetensors_f32(&refs).expect("the generated tensors are well formed")
}

/// The MLP with the given safetensors file.
pub fn model_from(bytes: &[u8]) -> Model {
    let config = MlpConfig {
        widths: WIDTHS.to_vec(),
    };
    let weights = load_safetensors(bytes).expect("weights() writes a valid file");
    Model::new("market-test-mlp", Architecture::Mlp(config), weights, None)
        .expect("the MLP's weights match its widths")
}

/// A job input: one row of 8 values drawn by the caller.
pub fn job_input(values: [f32; 8]) -> Activation {
    let mut activation = Activation::new();
    activation.set("input", Tensor::f32(vec![1, 8], values.to_vec()));
    activation
}

/// A party's execution of a job: the output, its trace, and (for a real run) every
/// activation, `activations[i]` being the input of step `i`.
#[derive(Clone, Debug)]
pub struct Execution {
    pub output: Activation,
    pub trace: Trace,
    pub activations: Vec<Activation>,
}

/// Inferences executed, in millionths of a full run (a referee step is `1/steps` of one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub micro_runs: u64,
}

impl Counter {
    /// One full run.
    pub fn add_run(&mut self) {
        self.micro_runs += 1_000_000;
    }

    /// One step of a `steps`-step program.
    pub fn add_step(&mut self, steps: u64) {
        self.micro_runs += 1_000_000 / steps.max(1);
    }

    /// As a number of full runs.
    pub fn runs(&self) -> f64 {
        self.micro_runs as f64 / 1e6
    }
}

/// Run `model` on `input`, keeping every activation.
pub fn execute(model: &Model, executor: &Executor, input: &Activation) -> Execution {
    let program = model.program();
    let mut activations = Vec::with_capacity(program.len() + 1);
    let mut hashes = Vec::with_capacity(program.len());
    let mut activation = input.clone();
    for index in 0..program.len() {
        activations.push(activation.clone());
        activation = run_step(executor, model.weights(), program, index, activation)
            .expect("the job input fits the model (the ledger checked its shape)");
        hashes.push(activation.hash());
    }
    Execution {
        output: activation,
        trace: Trace::from_step_hashes(hashes),
        activations,
    }
}

/// A wrong output with a self-consistent fake trace, computed from nothing but `secret` (so
/// every holder of the secret fabricates the same one: how a sybil family agrees).
pub fn fabricate(steps: usize, input: &Activation, secret: &Hash) -> Execution {
    let mut values = [0f32; 4];
    for (i, value) in values.iter_mut().enumerate() {
        let h = Hash::of_parts("surety.sim.fake-output", &[&secret.0, &[i as u8]]);
        *value = (u16::from_le_bytes([h.0[0], h.0[1]]) as f32) / 6553.6 - 5.0;
    }
    let mut output = Activation::new();
    output.set(OUTPUT_SLOT, Tensor::f32(vec![1, 4], values.to_vec()));
    let mut hashes: Vec<Hash> = (0..steps.saturating_sub(1))
        .map(|i| {
            Hash::of_parts(
                "surety.sim.fake-leaf",
                &[&secret.0, &(i as u64).to_le_bytes()],
            )
        })
        .collect();
    hashes.push(output.hash());
    Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        // A fabricator holds no real activation but the job input.
        activations: vec![input.clone()],
    }
}

/// A real run with its output moved after the fact and the trace re-rooted to match: the
/// bisection isolates the last step and the referee needs the input before it.
pub fn alter_last(honest: &Execution) -> Execution {
    let mut output = honest.output.clone();
    let (shape, values) = output
        .f32(OUTPUT_SLOT)
        .expect("the MLP's output is f32 logits");
    let mut values = values.to_vec();
    values[0] += 1.0;
    output.set(OUTPUT_SLOT, Tensor::f32(shape.to_vec(), values));
    let mut hashes = honest.trace.step_hashes.clone();
    *hashes.last_mut().expect("a trace has steps") = output.hash();
    Execution {
        output,
        trace: Trace::from_step_hashes(hashes),
        activations: honest.activations.clone(),
    }
}
