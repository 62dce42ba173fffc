//! Small models made by the tests themselves: every architecture, every loader, and the
//! trace properties, without the real weights.

use surety_infer::gguf::{load_gguf, write_gguf, MetaValue};
use surety_infer::models::bert::{self, BertConfig};
use surety_infer::models::llama::{self, LlamaConfig};
use surety_infer::models::mlp::{self, CnnConfig, ConvLayer, MlpConfig};
use surety_infer::safetensors_loader::save_safetensors_f32;
use surety_infer::{
    execute_step, Activation, Architecture, Executor, InferError, Model, StorageType, Tensor,
    WeightStore,
};

/// Deterministic pseudo-random values in [-scale, scale), never zero.
fn values(seed: u64, count: usize, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = ((state >> 40) as f32 + 0.5) / (1u64 << 24) as f32;
            (unit * 2.0 - 1.0) * scale
        })
        .collect()
}

fn bert_tensors(config: &BertConfig) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let (h, i) = (
        config.hidden_size as usize,
        config.intermediate_size as usize,
    );
    let mut tensors = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![config.vocab_size as usize, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![config.max_positions as usize, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for layer in 0..config.layers {
        let p = format!("encoder.layer.{layer}.");
        for (part, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            tensors.push((format!("{p}{part}.weight"), vec![out, inp]));
            tensors.push((format!("{p}{part}.bias"), vec![out]));
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            tensors.push((format!("{p}{norm}.weight"), vec![h]));
            tensors.push((format!("{p}{norm}.bias"), vec![h]));
        }
    }
    tensors
        .into_iter()
        .enumerate()
        .map(|(seed, (name, shape))| {
            let count = shape.iter().product();
            let mut v = values(seed as u64, count, 0.5);
            if name.ends_with("LayerNorm.weight") {
                v.iter_mut().for_each(|x| *x += 1.0);
            }
            (name, shape, v)
        })
        .collect()
}

fn tiny_bert_config() -> BertConfig {
    BertConfig {
        vocab_size: 50,
        hidden_size: 24,
        layers: 2,
        heads: 3,
        intermediate_size: 40,
        max_positions: 16,
        layer_norm_eps: 1e-12,
        prefix: String::new(),
        normalize: true,
    }
}

fn tiny_bert_from(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Model {
    let refs: Vec<_> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    let bytes = save_safetensors_f32(&refs).unwrap();
    let weights = surety_infer::safetensors_loader::load_safetensors(&bytes).unwrap();
    Model::new(
        "tiny-bert",
        Architecture::Bert(tiny_bert_config()),
        weights,
        None,
    )
    .unwrap()
}

const TOKENS: [u32; 7] = [0, 5, 17, 3, 49, 8, 2];

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_tiny_bert_gives_identical_bits_on_1_2_and_4_threads() {
    let model = tiny_bert_from(&bert_tensors(&tiny_bert_config()));
    let runs: Vec<_> = [1, 2, 4]
        .iter()
        .map(|&t| {
            model
                .run(&Executor::new(t).unwrap(), bert::input(&TOKENS))
                .unwrap()
        })
        .collect();
    for run in &runs[1..] {
        assert_eq!(run.trace.step_hashes, runs[0].trace.step_hashes);
        assert_eq!(run.output, runs[0].output);
    }
    let (_, embedding) = runs[0].output.f32("embedding").unwrap();
    let norm: f32 = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
}

#[test]
fn a_one_bit_change_in_any_weight_changes_the_trace_from_the_first_step_that_uses_it() {
    let tensors = bert_tensors(&tiny_bert_config());
    let model = tiny_bert_from(&tensors);
    let executor = Executor::new(1).unwrap();
    let base = model.run(&executor, bert::input(&TOKENS)).unwrap().trace;
    for (index, (name, _, _)) in tensors.iter().enumerate() {
        let mut changed = tensors.clone();
        // Element 0 of every tensor is read for these tokens (token 0, position 0, type 0);
        // bit 23 is the lowest exponent bit, so the weight doubles or halves.
        changed[index].2[0] = f32::from_bits(changed[index].2[0].to_bits() ^ (1 << 23));
        let changed = tiny_bert_from(&changed);
        assert_ne!(changed.model_id(), model.model_id(), "{name}");
        let trace = changed.run(&executor, bert::input(&TOKENS)).unwrap().trace;
        let first = model
            .program()
            .first_use_of(name)
            .expect("every tensor is used");
        assert_eq!(
            trace.step_hashes[..first],
            base.step_hashes[..first],
            "{name}"
        );
        assert_ne!(trace.step_hashes[first], base.step_hashes[first], "{name}");
        assert_ne!(trace.root(), base.root(), "{name}");
    }
}

#[test]
fn execute_step_rejects_malformed_activations_with_typed_errors() {
    let model = tiny_bert_from(&bert_tensors(&tiny_bert_config()));
    let mut wrong_dtype = Activation::new();
    wrong_dtype.set("tokens", Tensor::f32(vec![2], vec![1.0, 2.0]));
    assert!(matches!(
        execute_step(&model, 0, &wrong_dtype),
        Err(InferError::SlotDType { .. })
    ));
    assert!(matches!(
        execute_step(&model, 0, &Activation::new()),
        Err(InferError::MissingSlot(_))
    ));
    assert!(matches!(
        execute_step(&model, 0, &bert::input(&[7, 50])),
        Err(InferError::TokenOutOfRange { id: 50, .. })
    ));
    assert!(matches!(
        execute_step(&model, 0, &bert::input(&[1; 17])),
        Err(InferError::InputTooLong { .. })
    ));
    let mut wrong_width = Activation::new();
    wrong_width.set("sum", Tensor::f32(vec![2, 23], vec![0.0; 46]));
    assert!(matches!(
        execute_step(&model, 1, &wrong_width),
        Err(InferError::SlotShape { .. })
    ));
    let mut too_many_rows = Activation::new();
    too_many_rows.set("sum", Tensor::f32(vec![17, 24], vec![0.0; 17 * 24]));
    assert!(matches!(
        execute_step(&model, 1, &too_many_rows),
        Err(InferError::SlotShape { .. })
    ));
    let count = model.program().len();
    assert!(matches!(
        execute_step(&model, count, &bert::input(&TOKENS)),
        Err(InferError::StepOutOfRange { .. })
    ));
}

#[test]
fn trace_proofs_verify_against_the_root_and_fail_for_another_hash() {
    let model = tiny_bert_from(&bert_tensors(&tiny_bert_config()));
    let run = model
        .run(&Executor::new(1).unwrap(), bert::input(&TOKENS))
        .unwrap();
    let root = run.trace.root();
    for (index, hash) in run.trace.step_hashes.iter().enumerate() {
        let proof = run.trace.proof(index).unwrap();
        proof.verify(&root, hash.as_bytes()).unwrap();
        assert!(proof.verify(&root, &[0u8; 32]).is_err());
    }
}

fn q4_1_bytes(seed: u64, elements: usize) -> Vec<u8> {
    let noise = values(seed, elements, 1.0);
    let mut bytes = Vec::new();
    for block in noise.chunks(32) {
        bytes.extend_from_slice(&0x2c00u16.to_le_bytes()); // scale 1/16
        bytes.extend_from_slice(&0xb400u16.to_le_bytes()); // minimum -1/4
        for pair in 0..16 {
            let nibble = |v: f32| (((v + 1.0) * 8.0) as u8).min(15);
            bytes.push(nibble(block[pair]) | (nibble(block[pair + 16]) << 4));
        }
    }
    bytes
}

fn q8_0_bytes(seed: u64, elements: usize) -> Vec<u8> {
    let noise = values(seed, elements, 127.0);
    let mut bytes = Vec::new();
    for block in noise.chunks(32) {
        bytes.extend_from_slice(&0x2000u16.to_le_bytes()); // scale 1/128
        bytes.extend(block.iter().map(|v| *v as i8 as u8));
    }
    bytes
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn tiny_llama_gguf() -> Vec<u8> {
    let (vocab, hidden, inner, kv) = (64usize, 64usize, 96usize, 32usize);
    let mut tensors = vec![
        (
            "token_embd.weight".to_string(),
            vec![vocab, hidden],
            StorageType::Q8_0,
            q8_0_bytes(1, vocab * hidden),
        ),
        (
            "output_norm.weight".into(),
            vec![hidden],
            StorageType::F32,
            f32_bytes(&vec![1.0; hidden]),
        ),
    ];
    for layer in 0..2u64 {
        let p = format!("blk.{layer}.");
        let seed = 10 + layer * 10;
        tensors.extend([
            (
                format!("{p}attn_norm.weight"),
                vec![hidden],
                StorageType::F32,
                f32_bytes(&values(seed, hidden, 1.0)),
            ),
            (
                format!("{p}ffn_norm.weight"),
                vec![hidden],
                StorageType::F32,
                f32_bytes(&values(seed + 1, hidden, 1.0)),
            ),
            (
                format!("{p}attn_q.weight"),
                vec![hidden, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 2, hidden * hidden),
            ),
            (
                format!("{p}attn_k.weight"),
                vec![kv, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 3, kv * hidden),
            ),
            (
                format!("{p}attn_v.weight"),
                vec![kv, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 4, kv * hidden),
            ),
            (
                format!("{p}attn_output.weight"),
                vec![hidden, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 5, hidden * hidden),
            ),
            (
                format!("{p}ffn_gate.weight"),
                vec![inner, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 6, inner * hidden),
            ),
            (
                format!("{p}ffn_up.weight"),
                vec![inner, hidden],
                StorageType::Q4_1,
                q4_1_bytes(seed + 7, inner * hidden),
            ),
            (
                format!("{p}ffn_down.weight"),
                vec![hidden, inner],
                StorageType::Q4_1,
                q4_1_bytes(seed + 8, hidden * inner),
            ),
        ]);
    }
    let tensor_refs: Vec<_> = tensors
        .iter()
        .map(|(n, s, t, b)| (n.as_str(), s.clone(), *t, b.clone()))
        .collect();
    write_gguf(
        &[
            ("general.architecture", MetaValue::String("llama".into())),
            ("llama.block_count", MetaValue::Int(2)),
            ("llama.context_length", MetaValue::Int(64)),
            ("llama.embedding_length", MetaValue::Int(hidden as i128)),
            ("llama.feed_forward_length", MetaValue::Int(inner as i128)),
            ("llama.attention.head_count", MetaValue::Int(4)),
            ("llama.attention.head_count_kv", MetaValue::Int(2)),
            ("llama.rope.freq_base", MetaValue::Float(10000.0)),
            (
                "llama.attention.layer_norm_rms_epsilon",
                MetaValue::Float(1e-5),
            ),
        ],
        &tensor_refs,
    )
}

fn tiny_llama(bytes: &[u8]) -> Model {
    let file = load_gguf(bytes).unwrap();
    let config = LlamaConfig::from_gguf(&file).unwrap();
    assert!(config.tied_embeddings);
    Model::new(
        "tiny-llama",
        Architecture::Llama(config),
        file.weights,
        None,
    )
    .unwrap()
}

#[test]
fn a_tiny_q4_1_llama_decodes_with_a_cache_to_the_same_bits_as_its_traced_pass() {
    let model = tiny_llama(&tiny_llama_gguf());
    // `generate` asserts that every cached decoding step equals the traced pass's row.
    let one = llama::generate(
        &model,
        &Executor::new(1).unwrap(),
        &[3, 14, 15, 9, 2],
        12,
        None,
    )
    .unwrap();
    let two = llama::generate(
        &model,
        &Executor::new(2).unwrap(),
        &[3, 14, 15, 9, 2],
        12,
        None,
    )
    .unwrap();
    assert_eq!(one.tokens.len(), 12);
    assert_eq!(one.tokens, two.tokens);
    assert_eq!(one.trace.root(), two.trace.root());
    let mut activation = one.input.clone();
    for index in 0..model.program().len() {
        activation = execute_step(&model, index, &activation).unwrap();
        assert_eq!(
            activation.hash(),
            one.trace.step_hashes[index],
            "step {index}"
        );
    }
}

#[test]
fn a_one_bit_change_in_a_quantised_block_changes_the_llama_trace_from_its_first_use() {
    let bytes = tiny_llama_gguf();
    let model = tiny_llama(&bytes);
    let executor = Executor::new(1).unwrap();
    let input = llama::input(&[1, 2, 3, 4]);
    let base = model.run(&executor, input.clone()).unwrap().trace;
    let file = load_gguf(&bytes).unwrap();
    let target = file.weights.get("blk.1.ffn_up.weight").unwrap();
    // Find the tensor's bytes by their content (the writer aligns each to 32 bytes) and flip
    // the top bit of the first nibble pair: two weights move by 8 scale steps.
    let raw = q4_1_bytes(10 + 10 + 7, 96 * 64);
    let offset = bytes
        .windows(raw.len())
        .position(|w| w == raw.as_slice())
        .unwrap();
    let mut changed = bytes.clone();
    changed[offset + 4] ^= 0x80;
    let changed = tiny_llama(&changed);
    assert_ne!(changed.weights_root(), model.weights_root());
    let trace = changed.run(&executor, input).unwrap().trace;
    let first = model.program().first_use_of(&target.leaf.name).unwrap();
    assert_eq!(trace.step_hashes[..first], base.step_hashes[..first]);
    assert_ne!(trace.step_hashes[first], base.step_hashes[first]);
}

#[test]
fn an_mlp_from_safetensors_matches_a_float64_forward_pass() {
    let (w0, b0, w1, b1) = (
        values(1, 8 * 6, 1.0),
        values(2, 8, 0.1),
        values(3, 3 * 8, 1.0),
        values(4, 3, 0.1),
    );
    let bytes = save_safetensors_f32(&[
        ("layers.0.weight", vec![8, 6], w0.clone()),
        ("layers.0.bias", vec![8], b0.clone()),
        ("layers.1.weight", vec![3, 8], w1.clone()),
        ("layers.1.bias", vec![3], b1.clone()),
    ])
    .unwrap();
    let model = mlp::load_mlp(
        "tiny-mlp",
        &bytes,
        MlpConfig {
            widths: vec![6, 8, 3],
        },
    )
    .unwrap();
    let input = values(5, 2 * 6, 2.0);
    let (logits, trace) =
        mlp::classify_rows(&model, &Executor::new(2).unwrap(), 6, &input).unwrap();
    assert_eq!(trace.len(), 3);
    for row in 0..2 {
        let x = &input[row * 6..row * 6 + 6];
        let hidden: Vec<f64> = (0..8)
            .map(|j| {
                (0..6)
                    .map(|k| x[k] as f64 * w0[j * 6 + k] as f64)
                    .sum::<f64>()
                    + b0[j] as f64
            })
            .map(|v| v.max(0.0))
            .collect();
        for c in 0..3 {
            let expected: f64 = (0..8)
                .map(|k| hidden[k] * w1[c * 8 + k] as f64)
                .sum::<f64>()
                + b1[c] as f64;
            assert!((logits[row * 3 + c] as f64 - expected).abs() < 1e-5);
        }
    }
    let (again, _) = mlp::classify_rows(&model, &Executor::new(1).unwrap(), 6, &input).unwrap();
    assert_eq!(bits(&logits), bits(&again));
}

#[test]
fn a_cnn_from_safetensors_classifies_an_image_identically_on_any_thread_count() {
    let config = CnnConfig {
        channels: 1,
        height: 8,
        width: 8,
        convs: vec![
            ConvLayer {
                out_channels: 4,
                kernel: 3,
                padding: 1,
                pool: 2,
            },
            ConvLayer {
                out_channels: 6,
                kernel: 3,
                padding: 0,
                pool: 1,
            },
        ],
        dense: vec![10, 5],
    };
    let bytes = save_safetensors_f32(&[
        ("conv.0.weight", vec![4, 1, 3, 3], values(1, 36, 0.5)),
        ("conv.0.bias", vec![4], values(2, 4, 0.1)),
        ("conv.1.weight", vec![6, 4, 3, 3], values(3, 216, 0.5)),
        ("conv.1.bias", vec![6], values(4, 6, 0.1)),
        ("dense.0.weight", vec![10, 24], values(5, 240, 0.5)),
        ("dense.0.bias", vec![10], values(6, 10, 0.1)),
        ("dense.1.weight", vec![5, 10], values(7, 50, 0.5)),
        ("dense.1.bias", vec![5], values(8, 5, 0.1)),
    ])
    .unwrap();
    let model = mlp::load_cnn("tiny-cnn", &bytes, config).unwrap();
    let image = values(9, 64, 1.0);
    let (one, trace_one) =
        mlp::classify_image(&model, &Executor::new(1).unwrap(), [1, 8, 8], &image).unwrap();
    let (four, trace_four) =
        mlp::classify_image(&model, &Executor::new(4).unwrap(), [1, 8, 8], &image).unwrap();
    assert_eq!(one.len(), 5);
    assert_eq!(bits(&one), bits(&four));
    assert_eq!(trace_one.root(), trace_four.root());
    // Conv output at (channel 0, 0, 0) by hand: padding reads zeros.
    let store = model.weights();
    let w = store.f32("conv.0.weight", &[4, 1, 3, 3]).unwrap();
    let b = store.f32("conv.0.bias", &[4]).unwrap();
    let mut input = Activation::new();
    input.set("image", Tensor::f32(vec![1, 8, 8], image.clone()));
    let after_conv = execute_step(&model, 0, &input).unwrap();
    let (_, features) = after_conv.f32("features").unwrap();
    let by_hand: f32 = (0..3)
        .flat_map(|ky| (0..3).map(move |kx| (ky, kx)))
        .filter(|(ky, kx)| *ky >= 1 && *kx >= 1)
        .map(|(ky, kx)| image[(ky - 1) * 8 + kx - 1] * w[ky * 3 + kx])
        .sum::<f32>()
        + b[0];
    assert!((features[0] - by_hand).abs() < 1e-6);
}

#[test]
fn a_model_missing_a_tensor_is_refused_at_load() {
    let mut tensors = bert_tensors(&tiny_bert_config());
    tensors.retain(|(name, _, _)| name != "encoder.layer.1.output.dense.bias");
    let refs: Vec<_> = tensors
        .iter()
        .map(|(n, s, v)| (n.as_str(), s.clone(), v.clone()))
        .collect();
    let weights =
        surety_infer::safetensors_loader::load_safetensors(&save_safetensors_f32(&refs).unwrap())
            .unwrap();
    assert!(matches!(
        Model::new(
            "broken",
            Architecture::Bert(tiny_bert_config()),
            weights,
            None
        ),
        Err(InferError::MissingTensor(_))
    ));
    assert!(WeightStore::new().is_empty());
}
