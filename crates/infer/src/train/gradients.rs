//! Backward kernels and the batched forward kernels training needs (DESIGN §4 rules).
//!
//! Every sum over a minibatch has one order, fixed by the shapes alone, never by threads:
//! dense layers' weight and input gradients are [`kernels::weighted_row_sums`] (each element
//! one accumulator taking its terms in index order), bias gradients and convolution gradients
//! are [`kernels::sum`] or [`kernels::linear`] reductions (samples, or sample-position pairs,
//! through the 8 lanes in index order, then the fixed lane tree; the reduced index made the
//! inner one by a transpose first). Threads split only output rows and columns. Scatter-adds
//! (col2im) run per sample, over positions in order, so each sample is one thread's work.

use crate::kernels::{self, Executor, Matrix};

/// `x: [rows, columns]` to `[columns, rows]`.
pub fn transpose(x: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    debug_assert_eq!(x.len(), rows * columns);
    let mut y = vec![0.0f32; x.len()];
    for (i, row) in x.chunks_exact(columns).enumerate() {
        for (j, value) in row.iter().enumerate() {
            y[j * rows + i] = *value;
        }
    }
    y
}

/// `dW[o][k] = Σ_i dy[i][o] · x[i][k]` for `x: [n, inner]`, `dy: [n, outer]`: each
/// element one accumulator over samples `0, 1, …` in order ([`kernels::weighted_row_sums`]),
/// streaming the rows of `x` instead of a lane tree per element of a length-`n` dot product.
pub fn weight_gradient(
    executor: &Executor,
    x: &[f32],
    dy: &[f32],
    n: usize,
    inner: usize,
    outer: usize,
) -> Vec<f32> {
    // dy transposed, so that each output row's coefficients are one contiguous run.
    let dy_t = transpose(dy, n, outer);
    kernels::weighted_row_sums(executor, &dy_t, outer, n, x, inner)
}

/// `dx[i][k] = Σ_o dy[i][o] · w[o][k]` for `w: [outer, inner]`: each element one accumulator
/// over outputs `o = 0, 1, …` in order ([`kernels::weighted_row_sums`]).
pub fn input_gradient(
    executor: &Executor,
    dy: &[f32],
    w: &[f32],
    n: usize,
    inner: usize,
    outer: usize,
) -> Vec<f32> {
    kernels::weighted_row_sums(executor, dy, n, outer, w, inner)
}

/// `db[c] = Σ_i Σ_p dy[i][c][p]` for `dy: [n, channels, positions]` (positions 1 for a
/// dense layer): each channel's values in (sample, position) order through the lanes of
/// [`kernels::sum`], then its lane tree.
pub fn bias_gradient(dy: &[f32], n: usize, channels: usize, positions: usize) -> Vec<f32> {
    if positions == 1 {
        return dense_bias_gradient(dy, channels);
    }
    let mut gathered = vec![0.0f32; n * positions];
    (0..channels)
        .map(|channel| {
            for sample in 0..n {
                let start = (sample * channels + channel) * positions;
                gathered[sample * positions..(sample + 1) * positions]
                    .copy_from_slice(&dy[start..start + positions]);
            }
            kernels::sum(&gathered)
        })
        .collect()
}

/// [`bias_gradient`] of `dy: [n, channels]`, every channel at once: sample `i` goes to lane
/// `i mod LANES` of each channel, as `kernels::sum` of the channel's column would put it, so
/// the bits are that sum's while `dy` is read row by row.
fn dense_bias_gradient(dy: &[f32], channels: usize) -> Vec<f32> {
    let mut lanes = vec![0.0f32; kernels::LANES * channels];
    for (sample, row) in dy.chunks_exact(channels).enumerate() {
        let lane = &mut lanes[(sample % kernels::LANES) * channels..][..channels];
        for (sum, value) in lane.iter_mut().zip(row) {
            *sum += value;
        }
    }
    (0..channels)
        .map(|channel| {
            kernels::lane_tree(std::array::from_fn(|lane| lanes[lane * channels + channel]))
        })
        .collect()
}

/// The geometry of a stride-1, zero-padded square convolution over one sample.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    /// Input channels, height and width.
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Kernel side.
    pub kernel: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl ConvShape {
    /// Output height and width.
    pub fn output(&self) -> (usize, usize) {
        (
            self.height + 2 * self.padding + 1 - self.kernel,
            self.width + 2 * self.padding + 1 - self.kernel,
        )
    }

    /// Output positions per channel.
    pub fn positions(&self) -> usize {
        let (h, w) = self.output();
        h * w
    }

    /// Values per patch: `channels × kernel × kernel`.
    pub fn patch(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// For kernel row `ky` and output row `oy`, the input row read, or `None` in the
    /// padding.
    #[inline(always)]
    fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy + ky)
            .checked_sub(self.padding)
            .filter(|&y| y < self.height)
    }

    /// For kernel column `kx`, the output columns `ox` that read inside the image, as a
    /// range, and the input column of the first (`ox + kx - padding`).
    #[inline(always)]
    fn columns(&self, kx: usize) -> (std::ops::Range<usize>, usize) {
        let (_, out_w) = self.output();
        let first = self.padding.saturating_sub(kx);
        let last = (self.width + self.padding).saturating_sub(kx).min(out_w);
        (first..last.max(first), first + kx - self.padding)
    }
}

/// Patches of every sample of `x: [n, channels, height, width]`: `[n · positions, patch]`,
/// padding read as zeros, element `(c, ky, kx)` of a patch at `(c · k + ky) · k + kx`, as
/// the inference kernel `kernels::conv2d` lays them out.
pub fn im2col(executor: &Executor, x: &[f32], n: usize, shape: ConvShape) -> Vec<f32> {
    let (positions, patch) = (shape.positions(), shape.patch());
    let (_, out_w) = shape.output();
    let (k, image) = (shape.kernel, shape.channels * shape.height * shape.width);
    let mut patches = vec![0.0f32; n * positions * patch];
    executor.for_each_chunk(&mut patches, positions * patch, |sample, out| {
        let input = &x[sample * image..(sample + 1) * image];
        for c in 0..shape.channels {
            for ky in 0..k {
                for kx in 0..k {
                    let element = (c * k + ky) * k + kx;
                    let (range, first_x) = shape.columns(kx);
                    for oy in 0..positions / out_w {
                        let Some(y) = shape.row(oy, ky) else { continue };
                        let source = &input[(c * shape.height + y) * shape.width..];
                        for (step, ox) in range.clone().enumerate() {
                            out[(oy * out_w + ox) * patch + element] = source[first_x + step];
                        }
                    }
                }
            }
        }
    });
    patches
}

/// The transpose of [`im2col`], built directly: `[patch, n · positions]`, each patch element's
/// values over (sample, position) in order.
fn im2col_transposed(x: &[f32], n: usize, shape: ConvShape) -> Vec<f32> {
    let (positions, patch) = (shape.positions(), shape.patch());
    let (_, out_w) = shape.output();
    let (k, image) = (shape.kernel, shape.channels * shape.height * shape.width);
    let mut columns = vec![0.0f32; patch * n * positions];
    for c in 0..shape.channels {
        for ky in 0..k {
            for kx in 0..k {
                let element = (c * k + ky) * k + kx;
                let (range, first_x) = shape.columns(kx);
                let row = &mut columns[element * n * positions..(element + 1) * n * positions];
                for sample in 0..n {
                    let input = &x[sample * image..(sample + 1) * image];
                    for oy in 0..positions / out_w {
                        let Some(y) = shape.row(oy, ky) else { continue };
                        let source = &input[(c * shape.height + y) * shape.width..];
                        let target = &mut row[sample * positions + oy * out_w..];
                        for (step, ox) in range.clone().enumerate() {
                            target[ox] = source[first_x + step];
                        }
                    }
                }
            }
        }
    }
    columns
}

/// Batched convolution: `[n, channels, h, w]` to `[n, out_channels, h', w']`. Each output is
/// `dot(patch, weight row) + bias`, the bits of the inference kernel.
pub fn conv2d_forward(
    executor: &Executor,
    x: &[f32],
    n: usize,
    shape: ConvShape,
    w: &[f32],
    out_channels: usize,
    bias: &[f32],
) -> Vec<f32> {
    let (positions, patch) = (shape.positions(), shape.patch());
    let patches = im2col(executor, x, n, shape);
    let rows = kernels::linear(
        executor,
        &patches,
        n * positions,
        patch,
        Matrix::F32(w),
        out_channels,
        Some(bias),
    );
    // [n, positions, out] to [n, out, positions], per sample.
    let mut y = vec![0.0f32; rows.len()];
    executor.for_each_chunk(&mut y, out_channels * positions, |sample, out| {
        let block =
            &rows[sample * positions * out_channels..(sample + 1) * positions * out_channels];
        out.copy_from_slice(&transpose(block, positions, out_channels));
    });
    y
}

/// `dW[o][e] = Σ_{i, p} dy[i][o][p] · patch[i, p][e]`, (sample, position) pairs in order.
pub fn conv2d_weight_gradient(
    executor: &Executor,
    x: &[f32],
    dy: &[f32],
    n: usize,
    shape: ConvShape,
    out_channels: usize,
) -> Vec<f32> {
    let (positions, patch) = (shape.positions(), shape.patch());
    let patches_t = im2col_transposed(x, n, shape);
    // dy [n, out, positions] to [out, n · positions].
    let mut dy_t = vec![0.0f32; dy.len()];
    for channel in 0..out_channels {
        for sample in 0..n {
            let source = (sample * out_channels + channel) * positions;
            let target = (channel * n + sample) * positions;
            dy_t[target..target + positions].copy_from_slice(&dy[source..source + positions]);
        }
    }
    kernels::linear(
        executor,
        &dy_t,
        out_channels,
        n * positions,
        Matrix::F32(&patches_t),
        patch,
        None,
    )
}

/// `dx` of a convolution: patch gradients `dy_rows · W`, then each sample's patches added back
/// onto its pixels position by position, element by element (col2im).
pub fn conv2d_input_gradient(
    executor: &Executor,
    dy: &[f32],
    w: &[f32],
    n: usize,
    shape: ConvShape,
    out_channels: usize,
) -> Vec<f32> {
    let (positions, patch) = (shape.positions(), shape.patch());
    let mut dy_rows = vec![0.0f32; dy.len()];
    executor.for_each_chunk(&mut dy_rows, positions * out_channels, |sample, out| {
        let block = &dy[sample * out_channels * positions..(sample + 1) * out_channels * positions];
        out.copy_from_slice(&transpose(block, out_channels, positions));
    });
    let w_t = transpose(w, out_channels, patch);
    let patch_gradients = kernels::linear(
        executor,
        &dy_rows,
        n * positions,
        out_channels,
        Matrix::F32(&w_t),
        patch,
        None,
    );
    let image = shape.channels * shape.height * shape.width;
    let (_, out_w) = shape.output();
    let k = shape.kernel;
    let mut dx = vec![0.0f32; n * image];
    executor.for_each_chunk(&mut dx, image, |sample, out| {
        let rows = &patch_gradients[sample * positions * patch..(sample + 1) * positions * patch];
        // Positions in order, then patch elements in order: each pixel receives its terms in
        // the order of the positions that read it.
        for position in 0..positions {
            let (oy, ox) = (position / out_w, position % out_w);
            let gradients = &rows[position * patch..(position + 1) * patch];
            for c in 0..shape.channels {
                for ky in 0..k {
                    let Some(y) = shape.row(oy, ky) else { continue };
                    let target = &mut out[(c * shape.height + y) * shape.width..];
                    for kx in 0..k {
                        let Some(x) = (ox + kx).checked_sub(shape.padding) else {
                            continue;
                        };
                        if x < shape.width {
                            target[x] += gradients[(c * k + ky) * k + kx];
                        }
                    }
                }
            }
        }
    });
    dx
}

/// Non-overlapping `size × size` max pooling of `[planes, height, width]` (planes = samples
/// × channels): the maximum of each window, as the inference op computes it.
pub fn max_pool(x: &[f32], planes: usize, height: usize, width: usize, size: usize) -> Vec<f32> {
    let (out_h, out_w) = (height / size, width / size);
    let mut y = Vec::with_capacity(planes * out_h * out_w);
    for plane in x.chunks_exact(height * width).take(planes) {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut best = f32::NEG_INFINITY;
                for dy in 0..size {
                    for dx in 0..size {
                        best = best.max(plane[(oy * size + dy) * width + ox * size + dx]);
                    }
                }
                y.push(best);
            }
        }
    }
    y
}

/// The gradient of [`max_pool`]: each window's output gradient goes to the first element that
/// holds the window's maximum (row by row); every other element, and pixels no window covers,
/// get zero.
pub fn max_pool_gradient(
    x: &[f32],
    dy: &[f32],
    planes: usize,
    height: usize,
    width: usize,
    size: usize,
) -> Vec<f32> {
    let (out_h, out_w) = (height / size, width / size);
    let mut dx = vec![0.0f32; x.len()];
    for plane in 0..planes {
        let input = &x[plane * height * width..(plane + 1) * height * width];
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut best = (oy * size) * width + ox * size;
                for dy_offset in 0..size {
                    for dx_offset in 0..size {
                        let index = (oy * size + dy_offset) * width + ox * size + dx_offset;
                        if input[index] > input[best] {
                            best = index;
                        }
                    }
                }
                dx[plane * height * width + best] = dy[(plane * out_h + oy) * out_w + ox];
            }
        }
    }
    dx
}

/// Mean softmax cross-entropy of `logits: [n, classes]` against `labels`, and its gradient
/// `(softmax - one_hot) / n`. Each row: `m = max`, `e = exp(x - m)` with the crate's [`exp`],
/// `s` the fixed-order sum of `e`, loss `ln s - (x[label] - m)` with libm's `logf`; the mean
/// is the fixed-order sum of the row losses divided by `n`.
///
/// [`exp`]: kernels::exp
pub fn cross_entropy(logits: &[f32], labels: &[u32], classes: usize) -> (f32, Vec<f32>) {
    let n = labels.len();
    let mut losses = Vec::with_capacity(n);
    let mut gradient = vec![0.0f32; logits.len()];
    for ((row, label), out) in logits
        .chunks_exact(classes)
        .zip(labels)
        .zip(gradient.chunks_exact_mut(classes))
    {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for (o, x) in out.iter_mut().zip(row) {
            *o = kernels::exp(x - max);
        }
        let total = kernels::sum(out);
        losses.push(libm::logf(total) - (row[*label as usize] - max));
        // (p - one_hot) / n: for p near 1, p - 1 is exact (Sterbenz), so the small gradient
        // of a confident row keeps its digits.
        for o in out.iter_mut() {
            *o /= total;
        }
        out[*label as usize] -= 1.0;
        for o in out.iter_mut() {
            *o /= n as f32;
        }
    }
    (kernels::sum(&losses) / n as f32, gradient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dense_bias_gradient_has_the_bits_of_the_fixed_order_sum_of_its_column() {
        for (n, channels) in [(1, 3), (7, 5), (8, 1), (33, 10), (128, 256)] {
            let dy: Vec<f32> = (0..n * channels)
                .map(|i| ((i * 7919 % 1009) as f32 - 504.0) / 97.0)
                .collect();
            let got = bias_gradient(&dy, n, channels, 1);
            for (channel, value) in got.iter().enumerate() {
                let column: Vec<f32> = (0..n).map(|i| dy[i * channels + channel]).collect();
                assert_eq!(
                    value.to_bits(),
                    kernels::sum(&column).to_bits(),
                    "{n} x {channels}"
                );
            }
        }
    }
}
