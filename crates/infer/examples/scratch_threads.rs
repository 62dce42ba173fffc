#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
use std::time::Instant;
use surety_infer::kernels::{linear, Executor, Matrix};
fn main() {
    let (rows, inner, columns) = (128, 384, 1536);
    let x: Vec<f32> = (0..rows * inner).map(|i| (i % 7) as f32).collect();
    let w: Vec<f32> = (0..columns * inner).map(|i| (i % 5) as f32).collect();
    for threads in [1, 2, 1, 2] {
        let e = Executor::new(threads).unwrap();
        let start = Instant::now();
        for _ in 0..20 {
            std::hint::black_box(linear(&e, &x, rows, inner, Matrix::F32(&w), columns, None));
        }
        println!(
            "threads {threads}: {:.2} ms",
            start.elapsed().as_secs_f64() * 1e3 / 20.0
        );
    }
}
