//! Speed of surety-infer on the real models, printed as a table, beside candle's figures when
//! `CANDLE_JSON` names the output of `bench/candle-reference` (see docs/infer.md):
//! MiniLM latency and throughput at 15 and 128 tokens, SmolLM2 Q4_1 decode tokens/s, on 1 and
//! 2 threads; and the cost of `execute_step` on the largest step as a fraction of a full run.
//!
//!     SURETY_MODELS_DIR=models cargo bench -p surety-infer --bench infer
//!
//! Benchmarks measure wall time, so the clock the library may not read is read here.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::time::Instant;
use surety_infer::models::{bert, llama};
use surety_infer::{execute_step_with, Activation, Executor, Model};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    samples[samples.len() / 2]
}

fn time_ms<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed().as_secs_f64() * 1e3, value)
}

/// `[CLS]` + `tokens - 2` word ids + `[SEP]`, the same ids candle-reference uses.
fn minilm_ids(tokens: usize) -> Vec<u32> {
    let mut ids = vec![101u32];
    ids.extend((0..tokens - 2).map(|i| 2000 + (i as u32 * 37) % 5000));
    ids.push(102);
    ids
}

/// Time every step of one run; return (largest step index, its ms, full run ms, referee ms).
fn largest_step(model: &Model, executor: &Executor, input: &Activation) -> (usize, f64, f64, f64) {
    let (full_ms, _) = time_ms(|| model.run(executor, input.clone()).expect("runs"));
    let mut activation = input.clone();
    let mut worst = (0usize, 0.0f64, input.clone());
    let mut by_op: Vec<(String, f64)> = Vec::new();
    for index in 0..model.program().len() {
        let before = activation.clone();
        let (ms, next) =
            time_ms(|| execute_step_with(model, executor, index, &activation).expect("step"));
        if ms > worst.1 {
            worst = (index, ms, before);
        }
        let label = model.program().steps[index].label();
        let op = label.split_whitespace().next().unwrap_or("?").to_string();
        match by_op.iter_mut().find(|(name, _)| *name == op) {
            Some(entry) => entry.1 += ms,
            None => by_op.push((op, ms)),
        }
        activation = next;
    }
    let breakdown: Vec<String> = by_op
        .iter()
        .map(|(op, ms)| format!("{op} {ms:.1}"))
        .collect();
    println!(
        "  step time by op (ms, 1 thread, with the referee's activation copy): {}",
        breakdown.join(", ")
    );
    let samples: Vec<f64> = (0..5)
        .map(|_| time_ms(|| execute_step_with(model, executor, worst.0, &worst.2).expect("step")).0)
        .collect();
    (worst.0, worst.1, full_ms, median(samples))
}

fn main() {
    let models = std::env::var_os("SURETY_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    let candle: Option<serde_json::Value> = std::env::var_os("CANDLE_JSON").map(|path| {
        serde_json::from_str(&std::fs::read_to_string(path).expect("CANDLE_JSON is readable"))
            .expect("CANDLE_JSON is JSON")
    });
    let candle_threads: Vec<serde_json::Value> = match &candle {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let candle_for = |threads: usize| {
        candle_threads
            .iter()
            .find(|c| c["threads"].as_u64() == Some(threads as u64))
            .cloned()
    };

    let minilm = models.join("all-minilm-l6-v2");
    let read = |p: PathBuf| {
        std::fs::read(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-models)", p.display()))
    };
    let bert_model = bert::load(
        "all-minilm-l6-v2",
        &read(minilm.join("model.safetensors")),
        &String::from_utf8(read(minilm.join("config.json"))).expect("utf-8"),
        &String::from_utf8(read(minilm.join("tokenizer.json"))).expect("utf-8"),
        true,
    )
    .expect("MiniLM loads");
    let smollm = llama::load(
        "smollm2",
        &read(models.join("smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf")),
    )
    .expect("SmolLM2 loads");
    let prompt = smollm
        .tokenizer()
        .expect("tokenizer")
        .encode("The capital of France is")
        .expect("encodes");

    println!(
        "{:<44} {:>8} {:>12} {:>12} {:>8}",
        "figure", "threads", "surety", "candle", "ratio"
    );
    for threads in [1usize, 2] {
        let executor = Executor::new(threads).expect("executor");
        let reference = candle_for(threads);
        for tokens in [15usize, 128] {
            let input = bert::input(&minilm_ids(tokens));
            model_warmup(&bert_model, &executor, &input);
            let samples: Vec<f64> = (0..if tokens == 15 { 30 } else { 10 })
                .map(|_| time_ms(|| bert_model.run(&executor, input.clone()).expect("runs")).0)
                .collect();
            let ours = median(samples);
            let theirs = reference
                .as_ref()
                .and_then(|c| c["minilm_ms_median"][tokens.to_string()].as_f64());
            row(
                &format!("MiniLM latency, {tokens} tokens (ms, with trace)"),
                threads,
                ours,
                theirs,
            );
            row(
                &format!("MiniLM throughput, {tokens} tokens (seq/s)"),
                threads,
                1e3 / ours,
                theirs.map(|t| 1e3 / t),
            );
        }
        let new_tokens = 32usize;
        let (ms, tokens) = time_ms(|| {
            llama::decode_greedy(&smollm, &executor, &prompt, new_tokens, None).expect("decodes")
        });
        // First token includes the prompt; count decode steps after it, as candle-reference does.
        let (prefill_ms, _) = time_ms(|| {
            llama::decode_greedy(&smollm, &executor, &prompt, 1, None).expect("prefill")
        });
        let ours = (tokens.len() - 1) as f64 / ((ms - prefill_ms) / 1e3);
        let theirs = reference
            .as_ref()
            .and_then(|c| c["smollm_decode_tokens_per_s"].as_f64());
        row("SmolLM2 Q4_1 decode (tokens/s)", threads, ours, theirs);
        let (traced_ms, _) = time_ms(|| {
            llama::generate(&smollm, &executor, &prompt, new_tokens, None).expect("generates")
        });
        row(
            "SmolLM2 32 tokens with trace (tokens/s)",
            threads,
            new_tokens as f64 / (traced_ms / 1e3),
            None,
        );
    }

    let executor = Executor::new(1).expect("executor");
    for (name, model, input) in [
        (
            "MiniLM 128 tokens",
            &bert_model,
            bert::input(&minilm_ids(128)),
        ),
        (
            "SmolLM2 prompt + 31 tokens",
            &smollm,
            llama::input(&[prompt.clone(), vec![28; 31]].concat()),
        ),
    ] {
        let (index, _, full_ms, step_ms) = largest_step(model, &executor, &input);
        println!(
            "execute_step, {name}: largest step {index} ({}) {step_ms:.2} ms = {:.2}% of a full traced run ({full_ms:.1} ms, {} steps), 1 thread",
            model.program().steps[index].label(),
            100.0 * step_ms / full_ms,
            model.program().len()
        );
    }
}

fn model_warmup(model: &Model, executor: &Executor, input: &Activation) {
    model.run(executor, input.clone()).expect("runs");
}

fn row(figure: &str, threads: usize, ours: f64, theirs: Option<f64>) {
    match theirs {
        Some(theirs) => println!(
            "{figure:<44} {threads:>8} {ours:>12.2} {theirs:>12.2} {:>8.2}",
            ours / theirs
        ),
        None => println!(
            "{figure:<44} {threads:>8} {ours:>12.2} {:>12} {:>8}",
            "-", "-"
        ),
    }
}
