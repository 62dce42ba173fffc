//! Fixed-order numeric kernels (DESIGN §4).
//!
//! Every reduction here has one order, fixed by the length of its input alone: [`LANES`]
//! independent accumulators, each taking every `LANES`-th element in turn (a tail shorter than
//! `LANES` goes to the first lanes), then one fixed pairwise tree over the lanes. The lanes are
//! plain `[f32; LANES]` arithmetic or, on x86-64, explicit SSE2 or AVX2 vectors (AVX2 chosen at
//! run time, for speed only), and each lane still performs the same IEEE operations in the same order, so the
//! bits do not depend on the instruction set. Multiplication and addition are never fused:
//! Rust does not contract `a * b + c`, and this crate enables no target feature that would.
//! Transcendentals are ours ([`exp`], [`erf`]: plain IEEE arithmetic and bit moves) or from
//! the pure-Rust `libm` crate (sin, cos, pow), never from the platform.
//!
//! Threads (rayon, in [`Executor`]) split only independent outputs: which thread computes an
//! output never changes how it is computed.

use crate::error::{InferError, Result};
use rayon::prelude::*;

/// Accumulator lanes of every reduction. Changing it changes every trace root.
pub const LANES: usize = 8;
/// Output columns a matrix product computes together, sharing each load of the input row.
const COLUMN_TILE: usize = 4;
/// Most threads an executor may use.
pub const THREADS_MAX: usize = 256;

/// Sum the lanes in one fixed tree: ((0+1)+(2+3))+((4+5)+(6+7)).
#[inline(always)]
pub(crate) fn lane_tree(lanes: [f32; LANES]) -> f32 {
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// Dot product in the fixed order.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut lanes = [0.0f32; LANES];
    let mut a_chunks = a.chunks_exact(LANES);
    let mut b_chunks = b.chunks_exact(LANES);
    for (a_chunk, b_chunk) in (&mut a_chunks).zip(&mut b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += a_chunk[lane] * b_chunk[lane];
        }
    }
    for (lane, (x, y)) in a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .enumerate()
    {
        lanes[lane] += x * y;
    }
    lane_tree(lanes)
}

/// `lanes[l] += x[l] * w[l]` for the eight lanes: one multiply and one add each, never fused.
#[inline(always)]
fn accumulate(lanes: &mut [f32; LANES], x: &[f32; LANES], w: &[f32; LANES]) {
    for lane in 0..LANES {
        lanes[lane] += x[lane] * w[lane];
    }
}

#[inline(always)]
fn chunk(values: &[f32], start: usize) -> &[f32; LANES] {
    values[start..start + LANES]
        .try_into()
        .expect("a chunk is LANES long")
}

/// Four dot products of `x` with `w[0..4]`; each result is bit-identical to [`dot`]. The
/// portable definition: x86-64 runs its explicit-SIMD twin, and tests hold the two equal.
#[inline(always)]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn dot4(x: &[f32], w: [&[f32]; COLUMN_TILE]) -> [f32; COLUMN_TILE] {
    let mut lanes = [[0.0f32; LANES]; COLUMN_TILE];
    let full = x.len() / LANES * LANES;
    let mut start = 0;
    while start < full {
        let xs = chunk(x, start);
        for column in 0..COLUMN_TILE {
            accumulate(&mut lanes[column], xs, chunk(w[column], start));
        }
        start += LANES;
    }
    for (lane, index) in (full..x.len()).enumerate() {
        for column in 0..COLUMN_TILE {
            lanes[column][lane] += x[index] * w[column][index];
        }
    }
    lanes.map(lane_tree)
}

/// Explicit SIMD for x86-64, lane for lane the arithmetic of [`dot`]: vector register `r`
/// holds lanes `0..8` (AVX2) or two registers hold lanes `0..4` and `4..8` (SSE2, the x86-64
/// baseline); every lane does one multiply, then one add, in element order. No FMA.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{lane_tree, COLUMN_TILE, LANES};
    use std::arch::x86_64::*;

    /// Two rows by four columns with AVX2: eight accumulators of eight lanes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn dot2x4_avx2(
        x0: &[f32],
        x1: &[f32],
        w: [&[f32]; COLUMN_TILE],
    ) -> [[f32; COLUMN_TILE]; 2] {
        let n = x0.len();
        assert!(
            x1.len() == n && w.iter().all(|c| c.len() == n),
            "dot2x4: lengths"
        );
        let full = n / LANES * LANES;
        let mut acc = [_mm256_setzero_ps(); 2 * COLUMN_TILE];
        let mut k = 0;
        while k < full {
            // SAFETY: k + 8 <= full <= n, the length of every slice read.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_ps(x0.as_ptr().add(k)),
                    _mm256_loadu_ps(x1.as_ptr().add(k)),
                )
            };
            for c in 0..COLUMN_TILE {
                // SAFETY: as above.
                let wc = unsafe { _mm256_loadu_ps(w[c].as_ptr().add(k)) };
                acc[c] = _mm256_add_ps(acc[c], _mm256_mul_ps(a, wc));
                acc[COLUMN_TILE + c] = _mm256_add_ps(acc[COLUMN_TILE + c], _mm256_mul_ps(b, wc));
            }
            k += LANES;
        }
        let mut lanes = [[0.0f32; LANES]; 2 * COLUMN_TILE];
        for (out, register) in lanes.iter_mut().zip(acc) {
            // SAFETY: `out` holds eight f32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), register) };
        }
        for (lane, index) in (full..n).enumerate() {
            for c in 0..COLUMN_TILE {
                lanes[c][lane] += x0[index] * w[c][index];
                lanes[COLUMN_TILE + c][lane] += x1[index] * w[c][index];
            }
        }
        [
            [
                lane_tree(lanes[0]),
                lane_tree(lanes[1]),
                lane_tree(lanes[2]),
                lane_tree(lanes[3]),
            ],
            [
                lane_tree(lanes[4]),
                lane_tree(lanes[5]),
                lane_tree(lanes[6]),
                lane_tree(lanes[7]),
            ],
        ]
    }

    /// One row by four columns with SSE2 (always present on x86-64).
    pub(super) fn dot4_sse2(x: &[f32], w: [&[f32]; COLUMN_TILE]) -> [f32; COLUMN_TILE] {
        let n = x.len();
        assert!(w.iter().all(|c| c.len() == n), "dot4: lengths");
        let full = n / LANES * LANES;
        // SAFETY: SSE2 is part of the x86-64 baseline; every load reads k..k + 8 <= n.
        unsafe {
            let mut low = [_mm_setzero_ps(); COLUMN_TILE];
            let mut high = [_mm_setzero_ps(); COLUMN_TILE];
            let mut k = 0;
            while k < full {
                let (a, b) = (
                    _mm_loadu_ps(x.as_ptr().add(k)),
                    _mm_loadu_ps(x.as_ptr().add(k + 4)),
                );
                for c in 0..COLUMN_TILE {
                    let (wa, wb) = (
                        _mm_loadu_ps(w[c].as_ptr().add(k)),
                        _mm_loadu_ps(w[c].as_ptr().add(k + 4)),
                    );
                    low[c] = _mm_add_ps(low[c], _mm_mul_ps(a, wa));
                    high[c] = _mm_add_ps(high[c], _mm_mul_ps(b, wb));
                }
                k += LANES;
            }
            let mut lanes = [[0.0f32; LANES]; COLUMN_TILE];
            for c in 0..COLUMN_TILE {
                _mm_storeu_ps(lanes[c].as_mut_ptr(), low[c]);
                _mm_storeu_ps(lanes[c].as_mut_ptr().add(4), high[c]);
            }
            for (lane, index) in (full..n).enumerate() {
                for c in 0..COLUMN_TILE {
                    lanes[c][lane] += x[index] * w[c][index];
                }
            }
            lanes.map(lane_tree)
        }
    }

    /// Four output rows by sixteen columns of `weighted_row_sums` with AVX2: eight
    /// accumulators of eight lanes, each lane one output element taking its terms in order.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_sums_4x16_avx2(
        a: [&[f32]; 4],
        b: &[f32],
        columns: usize,
        column: usize,
    ) -> [[f32; 16]; 4] {
        let terms = a[0].len();
        assert!(
            a.iter().all(|row| row.len() == terms)
                && column + 16 <= columns
                && b.len() == terms * columns,
            "row_sums_4x16: lengths"
        );
        let mut acc = [_mm256_setzero_ps(); 8];
        for term in 0..terms {
            // SAFETY: term · columns + column + 16 <= b.len(), and term < every row's length.
            unsafe {
                let b_block = b.as_ptr().add(term * columns + column);
                let (low, high) = (_mm256_loadu_ps(b_block), _mm256_loadu_ps(b_block.add(8)));
                for r in 0..4 {
                    let coefficient = _mm256_set1_ps(*a[r].get_unchecked(term));
                    acc[2 * r] = _mm256_add_ps(acc[2 * r], _mm256_mul_ps(coefficient, low));
                    acc[2 * r + 1] =
                        _mm256_add_ps(acc[2 * r + 1], _mm256_mul_ps(coefficient, high));
                }
            }
        }
        let mut sums = [[0.0f32; 16]; 4];
        for (r, row) in sums.iter_mut().enumerate() {
            // SAFETY: `row` holds sixteen f32.
            unsafe {
                _mm256_storeu_ps(row.as_mut_ptr(), acc[2 * r]);
                _mm256_storeu_ps(row.as_mut_ptr().add(8), acc[2 * r + 1]);
            }
        }
        sums
    }

    /// Four output rows by eight columns of `weighted_row_sums` with SSE2.
    pub(super) fn row_sums_4x8_sse2(
        a: [&[f32]; 4],
        b: &[f32],
        columns: usize,
        column: usize,
    ) -> [[f32; 8]; 4] {
        let terms = a[0].len();
        assert!(
            a.iter().all(|row| row.len() == terms)
                && column + 8 <= columns
                && b.len() == terms * columns,
            "row_sums_4x8: lengths"
        );
        // SAFETY: SSE2 is part of the x86-64 baseline; term · columns + column + 8 <= b.len(),
        // and term < every row's length.
        unsafe {
            let mut acc = [_mm_setzero_ps(); 8];
            for term in 0..terms {
                let b_block = b.as_ptr().add(term * columns + column);
                let (low, high) = (_mm_loadu_ps(b_block), _mm_loadu_ps(b_block.add(4)));
                for r in 0..4 {
                    let coefficient = _mm_set1_ps(*a[r].get_unchecked(term));
                    acc[2 * r] = _mm_add_ps(acc[2 * r], _mm_mul_ps(coefficient, low));
                    acc[2 * r + 1] = _mm_add_ps(acc[2 * r + 1], _mm_mul_ps(coefficient, high));
                }
            }
            let mut sums = [[0.0f32; 8]; 4];
            for (r, row) in sums.iter_mut().enumerate() {
                _mm_storeu_ps(row.as_mut_ptr(), acc[2 * r]);
                _mm_storeu_ps(row.as_mut_ptr().add(4), acc[2 * r + 1]);
            }
            sums
        }
    }
}

/// One row by four columns, with the fastest kernel every x86-64 has.
#[inline(always)]
fn dot4_fast(x: &[f32], w: [&[f32]; COLUMN_TILE]) -> [f32; COLUMN_TILE] {
    #[cfg(target_arch = "x86_64")]
    {
        x86::dot4_sse2(x, w)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        dot4(x, w)
    }
}

/// Sum in the fixed order.
#[inline]
pub fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            lanes[lane] += chunk[lane];
        }
    }
    for (lane, value) in chunks.remainder().iter().enumerate() {
        lanes[lane] += value;
    }
    lane_tree(lanes)
}

/// Sum of squares of `values - center`, in the fixed order.
#[inline]
pub fn sum_squared_deviation(values: &[f32], center: f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            let d = chunk[lane] - center;
            lanes[lane] += d * d;
        }
    }
    for (lane, value) in chunks.remainder().iter().enumerate() {
        let d = value - center;
        lanes[lane] += d * d;
    }
    lane_tree(lanes)
}

/// Runs kernels on a fixed number of threads. The thread count changes speed only.
pub struct Executor {
    pool: Option<rayon::ThreadPool>,
    threads: usize,
}

impl Executor {
    /// An executor with `threads` threads (1 runs everything on the caller's thread).
    pub fn new(threads: usize) -> Result<Executor> {
        if threads == 0 || threads > THREADS_MAX {
            return Err(InferError::UnsupportedConfig(format!(
                "thread count {threads} is outside 1..={THREADS_MAX}"
            )));
        }
        let pool = if threads == 1 {
            None
        } else {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| InferError::UnsupportedConfig(format!("thread pool: {e}")))?,
            )
        };
        Ok(Executor { pool, threads })
    }

    /// The thread count.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run `work` on the executor's threads: rayon calls inside it (`join`, parallel
    /// iterators) use this executor's pool, not the global one.
    pub fn install<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            None => work(),
            Some(pool) => pool.install(work),
        }
    }

    /// Fill `output` in chunks of `chunk` elements, calling `work(chunk_index, chunk)` for each,
    /// on the executor's threads. `work` must compute each chunk from the inputs alone.
    pub fn for_each_chunk<F>(&self, output: &mut [f32], chunk: usize, work: F)
    where
        F: Fn(usize, &mut [f32]) + Sync + Send,
    {
        let chunk = chunk.max(1);
        match &self.pool {
            None => output
                .chunks_mut(chunk)
                .enumerate()
                .for_each(|(i, c)| work(i, c)),
            Some(pool) => pool.install(|| {
                output
                    .par_chunks_mut(chunk)
                    .enumerate()
                    .for_each(|(i, c)| work(i, c))
            }),
        }
    }
}

/// The weight matrix of a [`linear`] product: f32 rows, or GGUF blocks read in place.
#[derive(Clone, Copy)]
pub enum Matrix<'a> {
    /// f32 rows, read in place.
    F32(&'a [f32]),
    /// Q4_1 blocks (20 bytes per 32 values), rows made of whole blocks.
    Q4_1(&'a [u8]),
    /// Q8_0 blocks (34 bytes per 32 values), rows made of whole blocks.
    Q8_0(&'a [u8]),
}

/// Rows per thread from which [`linear`] splits rows rather than columns. Each row band reads
/// the whole weight matrix, so short inputs split columns instead: every weight is then read
/// once.
const ROWS_SPLIT_MIN: usize = 16;

/// Values per quantisation block.
const BLOCK: usize = 32;

/// Expand block `block` of a quantised row into `out`, with exactly the operations of
/// load-time expansion ([`crate::weights`]), so both give the same f32 values.
#[inline(always)]
fn expand_block(
    matrix: Matrix<'_>,
    row_blocks: usize,
    column: usize,
    block: usize,
    out: &mut [f32; BLOCK],
) {
    let index = column * row_blocks + block;
    match matrix {
        Matrix::F32(_) => unreachable!("f32 rows are read in place"),
        Matrix::Q4_1(bytes) => {
            let b = &bytes[index * 20..index * 20 + 20];
            let scale = crate::weights::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            let minimum = crate::weights::f16_to_f32(u16::from_le_bytes([b[2], b[3]]));
            for k in 0..16 {
                out[k] = (b[4 + k] & 0x0f) as f32 * scale + minimum;
                out[k + 16] = (b[4 + k] >> 4) as f32 * scale + minimum;
            }
        }
        Matrix::Q8_0(bytes) => {
            let b = &bytes[index * 34..index * 34 + 34];
            let scale = crate::weights::f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
            for k in 0..BLOCK {
                out[k] = b[2 + k] as i8 as f32 * scale;
            }
        }
    }
}

/// One task of [`linear`]: columns `first..first + count` for every row, the product of row
/// `i` and column `first + c` going to `out[c * layout.0 + i * layout.1]`. `pairs` selects
/// the two-row kernel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn linear_task(
    x: &[f32],
    rows: usize,
    inner: usize,
    matrix: Matrix<'_>,
    first: usize,
    count: usize,
    out: &mut [f32],
    layout: (usize, usize),
    pairs: bool,
) {
    let mut column = 0;
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pairs;
    match matrix {
        Matrix::F32(w) => {
            let row = |j: usize| &w[j * inner..(j + 1) * inner];
            while column + COLUMN_TILE <= count {
                let j = first + column;
                let tile = [row(j), row(j + 1), row(j + 2), row(j + 3)];
                let mut i = 0;
                #[cfg(target_arch = "x86_64")]
                if pairs {
                    while i + 2 <= rows {
                        // SAFETY: `pairs` is set only by `linear_task_avx2`, which runs after
                        // AVX2 was detected.
                        let values = unsafe {
                            x86::dot2x4_avx2(
                                &x[i * inner..(i + 1) * inner],
                                &x[(i + 1) * inner..(i + 2) * inner],
                                tile,
                            )
                        };
                        for offset in 0..COLUMN_TILE {
                            out[(column + offset) * layout.0 + i * layout.1] = values[0][offset];
                            out[(column + offset) * layout.0 + (i + 1) * layout.1] =
                                values[1][offset];
                        }
                        i += 2;
                    }
                }
                while i < rows {
                    let values = dot4_fast(&x[i * inner..(i + 1) * inner], tile);
                    for (offset, value) in values.into_iter().enumerate() {
                        out[(column + offset) * layout.0 + i * layout.1] = value;
                    }
                    i += 1;
                }
                column += COLUMN_TILE;
            }
            while column < count {
                let weights = row(first + column);
                for i in 0..rows {
                    out[column * layout.0 + i * layout.1] =
                        dot(&x[i * inner..(i + 1) * inner], weights);
                }
                column += 1;
            }
        }
        Matrix::Q4_1(_) | Matrix::Q8_0(_) if rows == 1 => {
            // One row (a decoding step): stream the blocks, expanding each once into a
            // buffer in L1; the row keeps its lanes across blocks, in the order of `dot`.
            let row_blocks = inner / BLOCK;
            let mut expanded = [[0.0f32; BLOCK]; COLUMN_TILE];
            while column < count {
                let width = COLUMN_TILE.min(count - column);
                let mut lanes = [[0.0f32; LANES]; COLUMN_TILE];
                for block in 0..row_blocks {
                    for (c, buffer) in expanded.iter_mut().enumerate().take(width) {
                        expand_block(matrix, row_blocks, first + column + c, block, buffer);
                    }
                    for part in 0..BLOCK / LANES {
                        let xs = chunk(x, block * BLOCK + part * LANES);
                        for (c, buffer) in expanded.iter().enumerate() {
                            accumulate(&mut lanes[c], xs, chunk(buffer, part * LANES));
                        }
                    }
                }
                for (c, column_lanes) in lanes.iter().enumerate().take(width) {
                    out[(column + c) * layout.0] = lane_tree(*column_lanes);
                }
                column += width;
            }
        }
        Matrix::Q4_1(_) | Matrix::Q8_0(_) => {
            // Several rows: expand four weight rows at a time (the values load-time expansion
            // gives) and run the f32 kernels on them.
            let row_blocks = inner / BLOCK;
            let mut expanded = vec![0.0f32; COLUMN_TILE * inner];
            let mut buffer = [0.0f32; BLOCK];
            while column < count {
                let width = COLUMN_TILE.min(count - column);
                for c in 0..width {
                    for block in 0..row_blocks {
                        expand_block(matrix, row_blocks, first + column + c, block, &mut buffer);
                        let start = c * inner + block * BLOCK;
                        expanded[start..start + BLOCK].copy_from_slice(&buffer);
                    }
                }
                linear_task(
                    x,
                    rows,
                    inner,
                    Matrix::F32(&expanded[..width * inner]),
                    0,
                    width,
                    &mut out[column * layout.0..],
                    layout,
                    pairs,
                );
                column += width;
            }
        }
    }
}

/// [`linear_task`] compiled for AVX2. Enabling AVX2 (and not FMA) changes how many lanes one
/// instruction carries, never the operations each lane performs: the bits are those of the
/// baseline build, which CI checks under `qemu-x86_64 -cpu Nehalem`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn linear_task_avx2(
    x: &[f32],
    rows: usize,
    inner: usize,
    matrix: Matrix<'_>,
    first: usize,
    count: usize,
    out: &mut [f32],
    layout: (usize, usize),
) {
    linear_task(x, rows, inner, matrix, first, count, out, layout, true)
}

#[allow(clippy::too_many_arguments)]
fn linear_task_dispatch(
    x: &[f32],
    rows: usize,
    inner: usize,
    matrix: Matrix<'_>,
    first: usize,
    count: usize,
    out: &mut [f32],
    layout: (usize, usize),
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has just been seen to support AVX2.
        unsafe { linear_task_avx2(x, rows, inner, matrix, first, count, out, layout) };
        return;
    }
    linear_task(x, rows, inner, matrix, first, count, out, layout, false)
}

/// `y[i][j] = dot(x[i], w[j]) + bias[j]` for `x: [rows, inner]`, `w: [columns, inner]`.
///
/// Threads split the output columns in tiles; each task fills a column-major scratch block,
/// so that a tile of weight rows stays in cache while every input row passes.
pub fn linear(
    executor: &Executor,
    x: &[f32],
    rows: usize,
    inner: usize,
    w: Matrix<'_>,
    columns: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    assert_eq!(x.len(), rows * inner, "linear: input shape");
    match w {
        Matrix::F32(values) => assert_eq!(values.len(), columns * inner, "linear: weight shape"),
        Matrix::Q4_1(bytes) => {
            assert!(
                inner.is_multiple_of(BLOCK) && bytes.len() == columns * inner / BLOCK * 20,
                "linear: Q4_1 shape"
            )
        }
        Matrix::Q8_0(bytes) => {
            assert!(
                inner.is_multiple_of(BLOCK) && bytes.len() == columns * inner / BLOCK * 34,
                "linear: Q8_0 shape"
            )
        }
    }
    if let Some(b) = bias {
        assert_eq!(b.len(), columns, "linear: bias shape");
    }
    let mut y = vec![0.0f32; rows * columns];
    if (executor.threads() == 1 && rows > 1) || rows >= ROWS_SPLIT_MIN * executor.threads() {
        // Many rows: each task takes a band of rows and every column, writing row-major.
        let rows_per_task = rows.div_ceil(executor.threads()).next_multiple_of(2);
        executor.for_each_chunk(&mut y, rows_per_task * columns, |task, out| {
            let band = out.len() / columns;
            let first_row = task * rows_per_task;
            let x_band = &x[first_row * inner..(first_row + band) * inner];
            linear_task_dispatch(x_band, band, inner, w, 0, columns, out, (1, columns));
        });
    } else {
        // Few rows (decoding): tasks take bands of columns, each written column-major and
        // then placed.
        let columns_per_task = (COLUMN_TILE * 16).max(columns / (executor.threads() * 8).max(1));
        let columns_per_task = columns_per_task.div_ceil(COLUMN_TILE) * COLUMN_TILE;
        let mut transposed = vec![0.0f32; columns * rows];
        executor.for_each_chunk(&mut transposed, columns_per_task * rows, |task, out| {
            let count = out.len() / rows;
            linear_task_dispatch(
                x,
                rows,
                inner,
                w,
                task * columns_per_task,
                count,
                out,
                (rows, 1),
            );
        });
        for j in 0..columns {
            for i in 0..rows {
                y[i * columns + j] = transposed[j * rows + i];
            }
        }
    }
    if let Some(bias) = bias {
        // Without a bias the product is kept as is: adding 0.0 would turn -0.0 into 0.0.
        for row in y.chunks_exact_mut(columns) {
            for (value, b) in row.iter_mut().zip(bias) {
                *value += b;
            }
        }
    }
    y
}

/// Output rows one [`weighted_row_sums`] tile computes together, sharing each load of `b`.
const SUM_ROWS: usize = 4;
/// Output columns one [`weighted_row_sums`] tile computes together: two AVX2 registers (or
/// four SSE2 ones) per output row.
const SUM_COLUMNS: usize = 16;

/// The portable definition of a [`weighted_row_sums`] block: rows `a` (each `terms` long)
/// times columns `column..column + C` of `b: [terms, columns]`. Each output element is its
/// own accumulator, taking term `j`'s product for `j = 0, 1, …`; the x86-64 tile kernels do
/// exactly this, lane by lane, and tests hold them equal.
#[inline(always)]
fn row_sums_block<const R: usize, const C: usize>(
    a: [&[f32]; R],
    b: &[f32],
    columns: usize,
    column: usize,
) -> [[f32; C]; R] {
    let mut sums = [[0.0f32; C]; R];
    for (term, b_row) in b.chunks_exact(columns).enumerate() {
        let b_block = &b_row[column..column + C];
        for (row_sums, a_row) in sums.iter_mut().zip(&a) {
            let coefficient = a_row[term];
            for c in 0..C {
                row_sums[c] += coefficient * b_block[c];
            }
        }
    }
    sums
}

/// One `SUM_ROWS × SUM_COLUMNS` tile, with the fastest kernel this CPU has.
#[inline(always)]
fn row_sums_tile(
    a: [&[f32]; SUM_ROWS],
    b: &[f32],
    columns: usize,
    column: usize,
    avx2: bool,
) -> [[f32; SUM_COLUMNS]; SUM_ROWS] {
    #[cfg(target_arch = "x86_64")]
    {
        if avx2 {
            // SAFETY: `avx2` is set only after AVX2 was detected.
            return unsafe { x86::row_sums_4x16_avx2(a, b, columns, column) };
        }
        let low = x86::row_sums_4x8_sse2(a, b, columns, column);
        let high = x86::row_sums_4x8_sse2(a, b, columns, column + 8);
        std::array::from_fn(|r| {
            std::array::from_fn(|c| if c < 8 { low[r][c] } else { high[r][c - 8] })
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = avx2;
        row_sums_block::<SUM_ROWS, SUM_COLUMNS>(a, b, columns, column)
    }
}

/// Rows `first_row..first_row + out.len() / columns` of [`weighted_row_sums`] into `out`.
/// Column blocks outside, row tiles inside: the `terms × SUM_COLUMNS` panel of `b` a column
/// block reads stays in L1 while every row tile of the band passes over it.
fn row_sums_band(
    a: &[f32],
    terms: usize,
    first_row: usize,
    b: &[f32],
    columns: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    let rows = out.len() / columns;
    let a_row = |row: usize| &a[(first_row + row) * terms..(first_row + row + 1) * terms];
    let full_rows = rows / SUM_ROWS * SUM_ROWS;
    let mut column = 0;
    while column < columns {
        let wide = column + SUM_COLUMNS <= columns;
        let mut row = 0;
        while row < full_rows {
            let tile = std::array::from_fn(|r| a_row(row + r));
            if wide {
                let sums = row_sums_tile(tile, b, columns, column, avx2);
                for (r, values) in sums.iter().enumerate() {
                    out[(row + r) * columns + column..][..SUM_COLUMNS].copy_from_slice(values);
                }
            } else {
                let sums = row_sums_block::<SUM_ROWS, 1>(tile, b, columns, column);
                for (r, values) in sums.iter().enumerate() {
                    out[(row + r) * columns + column] = values[0];
                }
            }
            row += SUM_ROWS;
        }
        for row in full_rows..rows {
            if wide {
                let [values] = row_sums_block::<1, SUM_COLUMNS>([a_row(row)], b, columns, column);
                out[row * columns + column..][..SUM_COLUMNS].copy_from_slice(&values);
            } else {
                let [[value]] = row_sums_block::<1, 1>([a_row(row)], b, columns, column);
                out[row * columns + column] = value;
            }
        }
        column += if wide { SUM_COLUMNS } else { 1 };
    }
}

/// `out = a · b` for `a: [rows, terms]` and `b: [terms, columns]`, each output row a weighted
/// sum of the rows of `b`: every output element is one accumulator starting at +0.0 that adds
/// the products of terms `j = 0, 1, …` in order (one multiply and one add each, never fused),
/// so its order is fixed by `terms` alone. Elements are independent, so the vector width (the
/// lanes here are output columns, not partial sums) and the threads (which split output
/// rows) change speed only.
///
/// Training uses it where a [`linear`] product would reduce over a short index and pay a lane
/// tree per element: the weight gradient `dW = dyᵀ x` (terms are samples) and the input
/// gradient `dx = dy W` (terms are output features).
pub fn weighted_row_sums(
    executor: &Executor,
    a: &[f32],
    rows: usize,
    terms: usize,
    b: &[f32],
    columns: usize,
) -> Vec<f32> {
    assert_eq!(a.len(), rows * terms, "weighted_row_sums: a shape");
    assert_eq!(b.len(), terms * columns, "weighted_row_sums: b shape");
    let mut out = vec![0.0f32; rows * columns];
    if columns == 0 || terms == 0 {
        return out;
    }
    let rows_per_task = rows.div_ceil(executor.threads()).next_multiple_of(SUM_ROWS);
    executor.for_each_chunk(&mut out, rows_per_task * columns, |task, band| {
        row_sums_band(a, terms, task * rows_per_task, b, columns, band);
    });
    out
}

/// LayerNorm over the last dimension of `x: [rows, width]`.
pub fn layer_norm(x: &[f32], width: usize, weight: &[f32], bias: &[f32], eps: f32) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    let n = width as f32;
    for (row, out) in x.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
        let mean = sum(row) / n;
        let variance = sum_squared_deviation(row, mean) / n;
        let inverse = 1.0 / (variance + eps).sqrt();
        for k in 0..width {
            out[k] = (row[k] - mean) * inverse * weight[k] + bias[k];
        }
    }
    y
}

/// RMSNorm over the last dimension of `x: [rows, width]`.
pub fn rms_norm(x: &[f32], width: usize, weight: &[f32], eps: f32) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    let n = width as f32;
    for (row, out) in x.chunks_exact(width).zip(y.chunks_exact_mut(width)) {
        let mean_square = sum_squared_deviation(row, 0.0) / n;
        let inverse = 1.0 / (mean_square + eps).sqrt();
        for k in 0..width {
            out[k] = row[k] * inverse * weight[k];
        }
    }
    y
}

/// e^x in pure IEEE single-precision arithmetic: round `x / ln 2` to an integer `k` with the
/// 1.5·2^23 trick (no library rounding call), reduce `r = x - k ln 2` in two parts
/// (Cody–Waite), evaluate the degree-7 Taylor polynomial of e^r on |r| <= ln 2 / 2 by Horner's
/// rule (error below one part in 10^8, under an ulp), and scale by 2^k through the exponent bits.
/// Every operation is a plain multiply, add or bit move, so every machine gets these bits, and
/// the loop over a row vectorises.
#[inline]
pub fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that k * LN2_HIGH is exact for |k| < 2^9.
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    const ROUNDER: f32 = 12_582_912.0; // 1.5 * 2^23
                                       // Clamping instead of branching keeps a loop of exps vectorisable: above the range the
                                       // result is the largest scaling (infinite or near f32::MAX), below it 0 (e^-104 is under
                                       // 2^-150 and rounds to 0). NaN stays NaN.
    let x = x.clamp(-104.0, 88.722_84);
    // x / ln 2 + 1.5·2^23 holds round(x / ln 2) in its low mantissa bits: the integer is read
    // from the bits, so no float-to-int conversion stands in the way of vectorising.
    let shifted = x * LOG2_E + ROUNDER;
    let k = shifted - ROUNDER;
    let k_integer = shifted.to_bits() as i32 - ROUNDER.to_bits() as i32;
    let r = (x - k * LN2_HIGH) - k * LN2_LOW;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // Two scalings keep 2^k representable at both ends of the range (k in -150..=128).
    let half = k_integer >> 1;
    p * power_of_two(half) * power_of_two(k_integer - half)
}

/// 2^n for n in -126..=127, from the exponent bits.
#[inline(always)]
fn power_of_two(n: i32) -> f32 {
    f32::from_bits(((n + 127) as u32) << 23)
}

/// The error function as `1 - erfc(|x|)`, odd in x, with erfc from the Chebyshev fit of
/// Numerical Recipes (`t · e^(-z² + P(t))`, t = 1 / (1 + z/2), fractional error below 1.2e-7)
/// and our [`exp`]: absolute error below 4e-7 (three ulps near 1) as evaluated in f32. Only multiplies, adds, one
/// division and [`exp`], so the bits are the same everywhere and a row of GELUs vectorises.
#[inline]
pub fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let polynomial = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204
                                + t * (1.488_515_9 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let complement = t * exp(-z * z + polynomial);
    (1.0 - complement).copysign(x)
}

/// GELU with the error function (not the tanh approximation), as BERT uses it.
#[inline]
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// SiLU (x · sigmoid x), as Llama's gated feed-forward uses it.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// Softmax of one row in place: max, then exp of the differences, then one fixed-order sum.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for value in row.iter_mut() {
        *value = exp(*value - max);
    }
    let total = sum(row);
    for value in row.iter_mut() {
        *value /= total;
    }
}

/// Index of the largest value, the first one on ties; NaN never wins (`>` is false for it).
pub fn argmax(row: &[f32]) -> u32 {
    let mut index = 0usize;
    for (k, v) in row.iter().enumerate() {
        if *v > row[index] {
            index = k;
        }
    }
    index as u32
}

/// Multi-head scaled dot-product attention over one sequence.
///
/// `q: [rows, heads * head_dim]`, `k, v: [rows, kv_heads * head_dim]`; query head `h` reads
/// key/value head `h / (heads / kv_heads)` (grouped-query attention). With `causal`, row `i`
/// sees keys `0..=i`. The weighted sum of values runs over keys in order `0, 1, …`, one
/// accumulator per output element, so a row's result does not depend on how many rows follow
/// it: a token decoded with a key/value cache equals the same row of a full pass.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    executor: &Executor,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    rows: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    causal: bool,
) -> Vec<f32> {
    let width = heads * head_dim;
    let kv_width = kv_heads * head_dim;
    assert_eq!(q.len(), rows * width, "attention: query shape");
    assert_eq!(
        k.len(),
        k.len() / kv_width.max(1) * kv_width,
        "attention: key shape"
    );
    let key_rows = k.len() / kv_width;
    assert_eq!(v.len(), key_rows * kv_width, "attention: value shape");
    // Query rows are the last `rows` positions of the `key_rows` keys.
    let offset = key_rows - rows;
    let group = heads / kv_heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut by_head = vec![0.0f32; heads * rows * head_dim];
    executor.for_each_chunk(&mut by_head, rows * head_dim, |head, out| {
        let kv_head = head / group;
        let mut scores = vec![0.0f32; key_rows];
        for i in 0..rows {
            let query = &q[i * width + head * head_dim..i * width + (head + 1) * head_dim];
            let seen = if causal { offset + i + 1 } else { key_rows };
            let key = |j: usize| {
                &k[j * kv_width + kv_head * head_dim..j * kv_width + (kv_head + 1) * head_dim]
            };
            // Four keys at a time through the matmul kernel: each score is still `dot`.
            let mut j = 0;
            while j + COLUMN_TILE <= seen {
                let four = dot4_fast(query, [key(j), key(j + 1), key(j + 2), key(j + 3)]);
                for (offset, value) in four.into_iter().enumerate() {
                    scores[j + offset] = value * scale;
                }
                j += COLUMN_TILE;
            }
            while j < seen {
                scores[j] = dot(query, key(j)) * scale;
                j += 1;
            }
            softmax_in_place(&mut scores[..seen]);
            let context = &mut out[i * head_dim..(i + 1) * head_dim];
            for (j, &p) in scores[..seen].iter().enumerate() {
                let value =
                    &v[j * kv_width + kv_head * head_dim..j * kv_width + (kv_head + 1) * head_dim];
                for d in 0..head_dim {
                    context[d] += p * value[d];
                }
            }
        }
    });
    let mut y = vec![0.0f32; rows * width];
    for head in 0..heads {
        for i in 0..rows {
            let source = &by_head[(head * rows + i) * head_dim..(head * rows + i + 1) * head_dim];
            y[i * width + head * head_dim..i * width + (head + 1) * head_dim]
                .copy_from_slice(source);
        }
    }
    y
}

/// Rotary position embedding on adjacent pairs `(2i, 2i+1)` of each head, as GGUF stores
/// Llama's query and key weights. Row `r` has position `first_position + r`.
pub fn rope(x: &mut [f32], width: usize, head_dim: usize, base: f32, first_position: usize) {
    let half = head_dim / 2;
    let frequencies: Vec<f32> = (0..half)
        .map(|i| libm::powf(base, -((2 * i) as f32) / head_dim as f32))
        .collect();
    for (r, row) in x.chunks_exact_mut(width).enumerate() {
        let position = (first_position + r) as f32;
        for (i, frequency) in frequencies.iter().enumerate() {
            let angle = position * frequency;
            let (sin, cos) = (libm::sinf(angle), libm::cosf(angle));
            for head in row.chunks_exact_mut(head_dim) {
                let (a, b) = (head[2 * i], head[2 * i + 1]);
                head[2 * i] = a * cos - b * sin;
                head[2 * i + 1] = a * sin + b * cos;
            }
        }
    }
}

/// 2-D convolution, stride 1, zero padding, of `x: [channels, height, width]` with
/// `w: [out_channels, channels, kernel, kernel]`. Each output is one fixed-order [`dot`] of
/// the weight row with the input patch (padding read as zeros), plus the bias.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    executor: &Executor,
    x: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    w: &[f32],
    out_channels: usize,
    kernel: usize,
    padding: usize,
    bias: &[f32],
) -> (Vec<f32>, usize, usize) {
    let out_h = height + 2 * padding + 1 - kernel;
    let out_w = width + 2 * padding + 1 - kernel;
    let patch_len = channels * kernel * kernel;
    // Patches once (im2col), shared by every output channel.
    let mut patches = vec![0.0f32; out_h * out_w * patch_len];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let patch =
                &mut patches[(oy * out_w + ox) * patch_len..(oy * out_w + ox + 1) * patch_len];
            for c in 0..channels {
                for ky in 0..kernel {
                    for kx in 0..kernel {
                        let (y, x_pos) = (
                            (oy + ky) as isize - padding as isize,
                            (ox + kx) as isize - padding as isize,
                        );
                        if y >= 0 && x_pos >= 0 && (y as usize) < height && (x_pos as usize) < width
                        {
                            patch[(c * kernel + ky) * kernel + kx] =
                                x[(c * height + y as usize) * width + x_pos as usize];
                        }
                    }
                }
            }
        }
    }
    let mut y = vec![0.0f32; out_channels * out_h * out_w];
    executor.for_each_chunk(&mut y, out_h * out_w, |channel, out| {
        let weights = &w[channel * patch_len..(channel + 1) * patch_len];
        for (position, value) in out.iter_mut().enumerate() {
            *value = dot(
                &patches[position * patch_len..(position + 1) * patch_len],
                weights,
            ) + bias[channel];
        }
    });
    (y, out_h, out_w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn dot_follows_the_lane_order_exactly() {
        let a: Vec<f32> = (0..19).map(|i| 1.0 + i as f32 * 1e-3).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 7e-4).collect();
        let mut lanes = [0.0f32; LANES];
        for i in 0..19 {
            lanes[i % LANES] += a[i] * b[i];
        }
        assert_eq!(dot(&a, &b).to_bits(), lane_tree(lanes).to_bits());
        assert!((dot(&a, &b) as f64 - reference_dot(&a, &b)).abs() < 1e-4);
    }

    #[test]
    fn the_four_column_kernel_equals_four_single_dots() {
        for inner in [1usize, 7, 8, 9, 31, 384] {
            let x: Vec<f32> = (0..inner)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.13)
                .collect();
            let w: Vec<Vec<f32>> = (0..4)
                .map(|c| {
                    (0..inner)
                        .map(|i| ((i * 13 + c * 5) % 17) as f32 * 0.07 - 0.5)
                        .collect()
                })
                .collect();
            let got = dot4(&x, [&w[0], &w[1], &w[2], &w[3]]);
            for c in 0..4 {
                assert_eq!(
                    got[c].to_bits(),
                    dot(&x, &w[c]).to_bits(),
                    "inner {inner} column {c}"
                );
            }
        }
    }

    #[test]
    fn linear_gives_the_same_bits_on_any_thread_count() {
        // 1 and 5 rows split columns across threads, 37 rows split rows: every split agrees.
        for rows in [1usize, 5, 37] {
            let (inner, columns) = (70, 203);
            let x: Vec<f32> = (0..rows * inner)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 17.0)
                .collect();
            let w: Vec<f32> = (0..columns * inner)
                .map(|i| ((i * 7 % 89) as f32 - 44.0) / 23.0)
                .collect();
            let bias: Vec<f32> = (0..columns).map(|i| i as f32 / 9.0).collect();
            let one = linear(
                &Executor::new(1).unwrap(),
                &x,
                rows,
                inner,
                Matrix::F32(&w),
                columns,
                Some(&bias),
            );
            for threads in [2, 3, 4] {
                let many = linear(
                    &Executor::new(threads).unwrap(),
                    &x,
                    rows,
                    inner,
                    Matrix::F32(&w),
                    columns,
                    Some(&bias),
                );
                assert!(one
                    .iter()
                    .zip(&many)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
            let last = rows - 1;
            let expected = dot(&x[last * inner..rows * inner], &w[3 * inner..4 * inner]) + bias[3];
            assert_eq!(one[last * columns + 3].to_bits(), expected.to_bits());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any shape, any values, any thread count: the same bits as one thread, and each
        /// output within float rounding of the exact product.
        #[test]
        fn linear_is_thread_invariant_and_close_to_exact(
            rows in 1usize..40,
            inner in 1usize..90,
            columns in 1usize..70,
            threads in 2usize..5,
            seed in 0u64..1_000_000,
        ) {
            let value = |i: usize| {
                let mixed = (i as u64 + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (mixed as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            };
            let x: Vec<f32> = (0..rows * inner).map(value).collect();
            let w: Vec<f32> = (0..columns * inner).map(|i| value(i + 7_777_777)).collect();
            let one = linear(&Executor::new(1).unwrap(), &x, rows, inner, Matrix::F32(&w), columns, None);
            let many = linear(&Executor::new(threads).unwrap(), &x, rows, inner, Matrix::F32(&w), columns, None);
            proptest::prop_assert!(one.iter().zip(&many).all(|(a, b)| a.to_bits() == b.to_bits()));
            for i in 0..rows {
                for j in 0..columns {
                    let exact: f64 = (0..inner)
                        .map(|k| x[i * inner + k] as f64 * w[j * inner + k] as f64)
                        .sum();
                    proptest::prop_assert!((one[i * columns + j] as f64 - exact).abs() < 1e-4 * inner as f64);
                }
            }
        }
    }

    /// Each element of `a · b` summed term by term in order, as [`weighted_row_sums`] promises.
    fn sequential_product(
        a: &[f32],
        rows: usize,
        terms: usize,
        b: &[f32],
        columns: usize,
    ) -> Vec<f32> {
        let mut out = vec![0.0f32; rows * columns];
        for r in 0..rows {
            for c in 0..columns {
                let mut sum = 0.0f32;
                for j in 0..terms {
                    sum += a[r * terms + j] * b[j * columns + c];
                }
                out[r * columns + c] = sum;
            }
        }
        out
    }

    #[test]
    fn weighted_row_sums_add_each_element_term_by_term_on_any_thread_count() {
        let value =
            |i: usize, seed: usize| ((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0;
        for (rows, terms, columns) in [
            (1, 1, 1),
            (5, 3, 17),
            (9, 32, 33),
            (37, 10, 70),
            (64, 7, 16),
        ] {
            let a: Vec<f32> = (0..rows * terms).map(|i| value(i, 1)).collect();
            let b: Vec<f32> = (0..terms * columns).map(|i| value(i, 2)).collect();
            let expected = sequential_product(&a, rows, terms, &b, columns);
            for threads in [1, 2, 3] {
                let got = weighted_row_sums(
                    &Executor::new(threads).unwrap(),
                    &a,
                    rows,
                    terms,
                    &b,
                    columns,
                );
                assert!(
                    got.iter()
                        .zip(&expected)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{rows}x{terms}x{columns} on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn the_row_sum_tile_kernels_equal_the_portable_block() {
        let (terms, columns) = (13, 40);
        let a: Vec<f32> = (0..4 * terms)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let b: Vec<f32> = (0..terms * columns)
            .map(|i| ((i * 13 % 31) as f32 - 15.0) / 9.0)
            .collect();
        let rows: [&[f32]; 4] = std::array::from_fn(|r| &a[r * terms..(r + 1) * terms]);
        for column in [0, 5, 24] {
            let portable = row_sums_block::<4, 16>(rows, &b, columns, column);
            let baseline = row_sums_tile(rows, &b, columns, column, false);
            assert_eq!(
                portable.map(|r| r.map(f32::to_bits)),
                baseline.map(|r| r.map(f32::to_bits))
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let avx2 = row_sums_tile(rows, &b, columns, column, true);
                assert_eq!(
                    portable.map(|r| r.map(f32::to_bits)),
                    avx2.map(|r| r.map(f32::to_bits))
                );
            }
        }
    }

    #[test]
    fn quantised_blocks_read_in_place_give_the_bits_of_expanded_weights() {
        use crate::weights::{StorageType, WeightStore};
        let (rows, inner, columns) = (3, 64, 7);
        let q4: Vec<u8> = (0..columns * inner / 32 * 20)
            .map(|i| {
                if i % 20 == 1 {
                    0x2c
                } else if i % 20 == 3 {
                    0xb4
                } else {
                    (i * 73 % 251) as u8
                }
            })
            .collect();
        let q8: Vec<u8> = (0..columns * inner / 32 * 34)
            .map(|i| {
                if i % 34 == 1 {
                    0x20
                } else if i % 34 == 0 {
                    0
                } else {
                    (i * 89 % 253) as u8
                }
            })
            .collect();
        let mut store = WeightStore::new();
        store
            .insert_raw("q4", StorageType::Q4_1, vec![columns, inner], &q4)
            .unwrap();
        store
            .insert_raw("q8", StorageType::Q8_0, vec![columns, inner], &q8)
            .unwrap();
        let x: Vec<f32> = (0..rows * inner)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 17.0)
            .collect();
        for threads in [1, 2] {
            let executor = Executor::new(threads).unwrap();
            for (name, matrix) in [("q4", Matrix::Q4_1(&q4)), ("q8", Matrix::Q8_0(&q8))] {
                let expanded = store.f32(name, &[columns, inner]).unwrap();
                let direct = linear(&executor, &x, rows, inner, matrix, columns, None);
                let reference = linear(
                    &executor,
                    &x,
                    rows,
                    inner,
                    Matrix::F32(expanded),
                    columns,
                    None,
                );
                assert!(
                    direct
                        .iter()
                        .zip(&reference)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn a_causal_row_does_not_depend_on_the_rows_after_it() {
        let (rows, heads, kv_heads, head_dim) = (6, 4, 2, 8);
        let width = heads * head_dim;
        let kv_width = kv_heads * head_dim;
        let q: Vec<f32> = (0..rows * width)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 10.0)
            .collect();
        let k: Vec<f32> = (0..rows * kv_width)
            .map(|i| ((i * 7 % 31) as f32 - 15.0) / 9.0)
            .collect();
        let v: Vec<f32> = (0..rows * kv_width)
            .map(|i| ((i * 5 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let executor = Executor::new(2).unwrap();
        let full = attention(&executor, &q, &k, &v, rows, heads, kv_heads, head_dim, true);
        // The fourth row alone, with the keys and values of rows 0..=3 (a decoding step).
        let last = attention(
            &executor,
            &q[3 * width..4 * width],
            &k[..4 * kv_width],
            &v[..4 * kv_width],
            1,
            heads,
            kv_heads,
            head_dim,
            true,
        );
        assert!(full[3 * width..4 * width]
            .iter()
            .zip(&last)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn exp_is_within_an_ulp_or_two_of_the_double_precision_value() {
        let mut worst = 0.0f64;
        let mut x = -103.0f32;
        while x < 88.7 {
            let exact = (x as f64).exp();
            let got = exp(x) as f64;
            if exact > 1e-37 {
                worst = worst.max(((got - exact) / exact).abs());
            }
            x += 0.001_37;
        }
        assert!(worst < 2.5e-7, "worst relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-200.0), 0.0);
        assert!(exp(100.0) > 1e38 && exp(100.0) == exp(88.8));
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-100.0) > 0.0);
    }

    #[test]
    fn softmax_sums_to_one_and_gelu_matches_known_values() {
        let mut row = vec![1.0, 2.0, 3.0, -1.0];
        softmax_in_place(&mut row);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
        let mut worst = 0.0f64;
        let mut x = -9.0f32;
        while x < 9.0 {
            worst = worst.max((erf(x) as f64 - libm::erf(x as f64)).abs());
            x += 0.000_37;
        }
        assert!(worst < 4e-7, "erf is off by up to {worst}");
        assert!((silu(1.0) - 0.731_058_6).abs() < 1e-6);
    }
}
