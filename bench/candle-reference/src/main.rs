//! candle on the models surety-infer runs: MiniLM latency at 15 and 128 tokens, SmolLM2 Q4_1
//! decode speed, on 1 or 2 threads; and the MiniLM embeddings of the golden sentences, so they
//! can be compared with surety-infer's float64 golden vectors.
//!
//!     RAYON_NUM_THREADS=1 cargo run --release -- <models dir> <golden.json>
//!
//! Prints one JSON object. Threads: candle's CPU backend uses rayon's global pool, whose size
//! RAYON_NUM_THREADS sets.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use candle_transformers::models::quantized_llama::ModelWeights;
use std::path::PathBuf;
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

fn embed(model: &BertModel, ids: &[u32]) -> Result<Vec<f32>, Error> {
    let device = Device::Cpu;
    let input = Tensor::new(ids, &device)?.unsqueeze(0)?;
    let types = input.zeros_like()?;
    let hidden = model.forward(&input, &types, None)?; // [1, n, 384]
    let pooled = hidden.mean(1)?.squeeze(0)?;
    let norm = pooled.sqr()?.sum_all()?.sqrt()?;
    Ok(pooled.broadcast_div(&norm)?.to_vec1::<f32>()?)
}

fn main() -> Result<(), Error> {
    let models = PathBuf::from(std::env::args().nth(1).ok_or("usage: candle-reference <models> <golden.json>")?);
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(std::env::args().nth(2).ok_or("golden")?)?)?;
    let device = Device::Cpu;
    let minilm = models.join("all-minilm-l6-v2");
    let config: Config = serde_json::from_str(&std::fs::read_to_string(minilm.join("config.json"))?)?;
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[minilm.join("model.safetensors")], DType::F32, &device)? };
    let bert = BertModel::load(vb, &config)?;

    let mut cosine = Vec::new();
    for case in golden["sentences"].as_array().ok_or("golden sentences")? {
        let ids: Vec<u32> = case["token_ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        let reference: Vec<f64> = case["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let got = embed(&bert, &ids)?;
        let dot: f64 = got.iter().zip(&reference).map(|(a, b)| *a as f64 * b).sum();
        let na: f64 = got.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = reference.iter().map(|b| b * b).sum::<f64>().sqrt();
        cosine.push(1.0 - dot / (na * nb));
    }

    let mut minilm_ms = serde_json::Map::new();
    for tokens in [15usize, 128] {
        // [CLS] word… [SEP]: the same synthetic ids surety-infer's benchmark uses.
        let mut ids = vec![101u32];
        ids.extend((0..tokens - 2).map(|i| 2000 + (i as u32 * 37) % 5000));
        ids.push(102);
        embed(&bert, &ids)?;
        let samples: Vec<f64> = (0..if tokens == 15 { 30 } else { 10 })
            .map(|_| {
                let start = Instant::now();
                embed(&bert, &ids).unwrap();
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        minilm_ms.insert(format!("{tokens}"), median(samples).into());
    }

    let gguf_path = models.join("smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut file = std::fs::File::open(&gguf_path)?;
    let content = candle_core::quantized::gguf_file::Content::read(&mut file)?;
    let mut llama = ModelWeights::from_gguf(content, &mut file, &device)?;
    let prompt: Vec<u32> = vec![504, 3575, 282, 4649, 314]; // "The capital of France is"
    let new_tokens = 32usize;
    let logits = llama.forward(&Tensor::new(prompt.as_slice(), &device)?.unsqueeze(0)?, 0)?;
    let mut next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
    let mut generated = vec![next];
    let start = Instant::now();
    for index in 0..new_tokens - 1 {
        let logits = llama.forward(&Tensor::new(&[next], &device)?.unsqueeze(0)?, prompt.len() + index)?;
        next = logits.squeeze(0)?.argmax(0)?.to_scalar::<u32>()?;
        generated.push(next);
    }
    let decode_tokens_per_s = (new_tokens - 1) as f64 / start.elapsed().as_secs_f64();

    println!(
        "{}",
        serde_json::json!({
            "engine": "candle 0.11.1",
            "threads": candle_core::utils::get_num_threads(),
            "minilm_ms_median": minilm_ms,
            "minilm_cosine_distance_to_golden": cosine,
            "smollm_first_tokens": &generated[..4],
            "smollm_decode_tokens_per_s": decode_tokens_per_s,
        })
    );
    Ok(())
}
