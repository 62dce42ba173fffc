//! all-MiniLM-L6-v2 sentence embeddings: agreement with an independent float64 reference,
//! and bit-exactness across threads, batch positions, single-step re-execution and weights.

use crate::common::{load_minilm_from, minilm_files};
use surety_infer::models::bert;
use surety_infer::{execute_step, Executor};

#[derive(serde::Deserialize)]
struct Golden {
    sentences: Vec<GoldenSentence>,
}

#[derive(serde::Deserialize)]
struct GoldenSentence {
    sentence: String,
    token_ids: Vec<u32>,
    embedding: Vec<f64>,
}

fn golden() -> Golden {
    serde_json::from_str(include_str!("../golden/minilm_golden.json")).expect("golden file parses")
}

fn cosine_distance(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    1.0 - dot / (na * nb)
}

#[test]
fn minilm_embeddings_agree_with_the_float64_reference_within_1e_4_cosine_distance() {
    let Some(files) = minilm_files() else { return };
    let model = load_minilm_from(&files, &files.weights);
    let executor = Executor::new(2).unwrap();
    for case in golden().sentences {
        let tokens = model.tokenizer().unwrap().encode(&case.sentence).unwrap();
        assert_eq!(tokens, case.token_ids, "token ids of {:?}", case.sentence);
        let (embedding, _) = bert::embed(&model, &executor, &case.sentence).unwrap();
        let distance = cosine_distance(&embedding, &case.embedding);
        let max_abs = embedding
            .iter()
            .zip(&case.embedding)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "{:?}: cosine distance {distance:.3e}, max abs {max_abs:.3e}",
            case.sentence
        );
        assert!(
            distance < 1e-4,
            "{:?}: cosine distance {distance}",
            case.sentence
        );
    }
}

#[test]
fn embeddings_and_trace_roots_are_identical_on_1_2_and_4_threads() {
    let Some(files) = minilm_files() else { return };
    let model = load_minilm_from(&files, &files.weights);
    let text = "Verifiable compute needs bit-exact answers, whatever the thread count.";
    let runs: Vec<_> = [1, 2, 4]
        .iter()
        .map(|&threads| bert::embed(&model, &Executor::new(threads).unwrap(), text).unwrap())
        .collect();
    for (embedding, trace) in &runs[1..] {
        assert_eq!(trace.step_hashes, runs[0].1.step_hashes);
        assert_eq!(trace.root(), runs[0].1.root());
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(embedding), bits(&runs[0].0));
    }
}

#[test]
fn a_sentence_embeds_to_the_same_bytes_at_every_batch_position() {
    let Some(files) = minilm_files() else { return };
    let model = load_minilm_from(&files, &files.weights);
    let executor = Executor::new(2).unwrap();
    let target = "The cat sits on the mat.";
    let alone = bert::embed(&model, &executor, target).unwrap();
    let batches: [&[&str]; 3] = [
        &[
            target,
            "a much longer sentence that comes second in the batch",
            "x",
        ],
        &["first", target, "third sentence here"],
        &["one", "two words", "and a third, longer one", target],
    ];
    for batch in batches {
        let results = bert::embed_batch(&model, &executor, batch).unwrap();
        let position = batch.iter().position(|t| *t == target).unwrap();
        assert_eq!(results[position].1.root(), alone.1.root());
        assert!(results[position]
            .0
            .iter()
            .zip(&alone.0)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }
}

#[test]
fn execute_step_on_every_step_reproduces_the_committed_activation_hash() {
    let Some(files) = minilm_files() else { return };
    let model = load_minilm_from(&files, &files.weights);
    let executor = Executor::new(2).unwrap();
    let tokens = model
        .tokenizer()
        .unwrap()
        .encode("A referee recomputes one step.")
        .unwrap();
    let input = bert::input(&tokens);
    let run = model.run(&executor, input.clone()).unwrap();
    let root = run.trace.root();
    let mut activation = input;
    for index in 0..model.program().len() {
        // The referee receives the activation as bytes from an untrusted party.
        let received = surety_infer::Activation::from_bytes(&activation.to_bytes()).unwrap();
        let next = execute_step(&model, index, &received).unwrap();
        assert_eq!(next.hash(), run.trace.step_hashes[index], "step {index}");
        let proof = run.trace.proof(index).unwrap();
        proof.verify(&root, next.hash().as_bytes()).unwrap();
        activation = next;
    }
    assert_eq!(activation, run.output);
}

#[test]
fn a_one_bit_change_in_a_weight_changes_the_trace_root_from_the_first_step_that_uses_it() {
    let Some(files) = minilm_files() else { return };
    let model = load_minilm_from(&files, &files.weights);
    let executor = Executor::new(2).unwrap();
    let tokens = model.tokenizer().unwrap().encode("one bit").unwrap();
    let base = model.run(&executor, bert::input(&tokens)).unwrap().trace;
    let header_len = u64::from_le_bytes(files.weights[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&files.weights[8..8 + header_len]).unwrap();
    for name in [
        "embeddings.word_embeddings.weight",
        "encoder.layer.2.attention.self.key.weight",
        "encoder.layer.5.output.LayerNorm.bias",
    ] {
        let start = header[name]["data_offsets"][0].as_u64().unwrap() as usize;
        let mut weights = files.weights.clone();
        // Token 2028 ("one") row for the embedding table. The flipped bit is the lowest
        // exponent bit (bit 23: the weight doubles or halves): a flip of the lowest mantissa
        // bit can be rounded away inside a 384-term dot product, so "changes the root" holds
        // for bits that change the value by more than the sum's rounding.
        let element = if name.starts_with("embeddings.word") {
            2028 * 384 + 7
        } else {
            7
        };
        weights[8 + header_len + start + element * 4 + 2] ^= 0x80;
        let changed = load_minilm_from(&files, &weights);
        assert_ne!(changed.weights_root(), model.weights_root());
        assert_ne!(changed.model_id(), model.model_id());
        let trace = changed.run(&executor, bert::input(&tokens)).unwrap().trace;
        let first = model.program().first_use_of(name).unwrap();
        assert_eq!(
            trace.step_hashes[..first],
            base.step_hashes[..first],
            "{name}"
        );
        assert_ne!(trace.step_hashes[first], base.step_hashes[first], "{name}");
        assert_ne!(trace.root(), base.root(), "{name}");
    }
}
