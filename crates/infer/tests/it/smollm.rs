//! SmolLM2-135M-Instruct (GGUF Q4_1): greedy generation, and bit-exactness of its trace across
//! threads and single-step re-execution.

use crate::common;

use crate::common::smollm_bytes;
use surety_infer::models::llama;
use surety_infer::{execute_step_with, Executor, Model};

fn load() -> Option<Model> {
    let bytes = smollm_bytes()?;
    Some(llama::load(common::SMOLLM, &bytes).expect("SmolLM2 loads"))
}

#[test]
fn smollm2_greedily_completes_the_capital_of_france_with_paris() {
    let Some(model) = load() else { return };
    let tokenizer = model.tokenizer().unwrap();
    let prompt = tokenizer.encode("The capital of France is").unwrap();
    let generation = llama::generate(&model, &Executor::new(2).unwrap(), &prompt, 4, None).unwrap();
    let text = tokenizer.decode(&generation.tokens).unwrap();
    eprintln!("prompt {prompt:?} -> {:?} = {text:?}", generation.tokens);
    assert!(text.starts_with(" Paris"), "completion was {text:?}");
}

#[test]
fn generation_gives_the_same_tokens_and_trace_root_on_1_2_and_4_threads_and_every_step_replays() {
    let Some(model) = load() else { return };
    let prompt = model
        .tokenizer()
        .unwrap()
        .encode("Bit-exact inference means")
        .unwrap();
    let runs: Vec<_> = [1, 2, 4]
        .iter()
        .map(|&t| llama::generate(&model, &Executor::new(t).unwrap(), &prompt, 3, None).unwrap())
        .collect();
    for run in &runs[1..] {
        assert_eq!(run.tokens, runs[0].tokens);
        assert_eq!(run.trace.step_hashes, runs[0].trace.step_hashes);
    }
    // The referee path: every step of the committed pass recomputed alone.
    let executor = Executor::new(2).unwrap();
    let mut activation = runs[0].input.clone();
    for index in 0..model.program().len() {
        activation = execute_step_with(&model, &executor, index, &activation).unwrap();
        assert_eq!(
            activation.hash(),
            runs[0].trace.step_hashes[index],
            "step {index}"
        );
    }
}
