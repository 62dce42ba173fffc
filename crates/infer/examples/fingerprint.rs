//! Prints the output hash and trace root of fixed inputs on the real models, one line each,
//! so that two machines (or one binary natively and under `qemu-x86_64 -cpu Nehalem`) can be
//! compared with `diff` (DESIGN §4: same bits on every instruction set).
//!
//!     cargo run --release -p surety-infer --example fingerprint -- <models dir>

use std::path::PathBuf;
use surety_infer::models::{bert, llama};
use surety_infer::Executor;

const SENTENCES: [&str; 3] = [
    "The cat sits on the mat.",
    "Proof-of-stake networks punish provably wrong answers.",
    "hello",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let models = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: fingerprint <models dir>")?,
    );
    let threads: usize = std::env::args().nth(2).map_or(Ok(2), |t| t.parse())?;
    let executor = Executor::new(threads)?;

    let minilm = models.join("all-minilm-l6-v2");
    let model = bert::load(
        "all-minilm-l6-v2",
        &std::fs::read(minilm.join("model.safetensors"))?,
        &std::fs::read_to_string(minilm.join("config.json"))?,
        &std::fs::read_to_string(minilm.join("tokenizer.json"))?,
        true,
    )?;
    println!(
        "minilm model_id {} weights_root {}",
        model.model_id(),
        model.weights_root()
    );
    for (index, sentence) in SENTENCES.iter().enumerate() {
        let tokens = model.tokenizer()?.encode(sentence)?;
        let run = model.run(&executor, bert::input(&tokens))?;
        println!(
            "minilm sentence {index} output {} trace_root {}",
            run.output.hash(),
            run.trace.root()
        );
    }

    let smollm = models.join("smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf");
    let model = llama::load("smollm2-135m-instruct-q4_1", &std::fs::read(smollm)?)?;
    println!(
        "smollm model_id {} weights_root {}",
        model.model_id(),
        model.weights_root()
    );
    let prompt = model.tokenizer()?.encode("The capital of France is")?;
    let generation = llama::generate(&model, &executor, &prompt, 3, None)?;
    println!(
        "smollm tokens {:?} trace_root {}",
        generation.tokens,
        generation.trace.root()
    );
    Ok(())
}
