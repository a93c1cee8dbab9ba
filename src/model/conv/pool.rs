//! The max pool after a convolution, taken from the thread's buffer of full-size maps (see
//! the parent module): rows of each window first, whole rows at a time, then across.

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;

/// A max pool over one convolution's maps: square window and stride, no padding.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pool {
    kernel: usize,
    stride: usize,
    /// The maps' height and width, and the pooled ones.
    input: (usize, usize),
    pub(super) output: (usize, usize),
}

impl Pool {
    /// `pool` over maps of `h` x `w`, when this module runs it.
    pub(super) fn of(pool: &MaxPool2d, h: usize, w: usize) -> Option<Pool> {
        let [kernel, kernel_w] = pool.kernel_size;
        let [stride, stride_w] = pool.stride;
        let simple = kernel == kernel_w
            && stride == stride_w
            && stride > 0
            && kernel > 0
            && pool.padding == PaddingConfig2d::Valid
            && pool.dilation == [1, 1]
            && !pool.ceil_mode;
        let side = |len: usize| (len - kernel) / stride + 1;
        (simple && h >= kernel && w >= kernel).then(|| Pool {
            kernel,
            stride,
            input: (h, w),
            output: (side(h), side(w)),
        })
    }

    /// `relu(max_pool(maps))` for maps `[c, h, w]` into `out` `[c, ph, pw]`: a NaN in a
    /// window gives NaN, as in Burn's and PyTorch's max pool (the ReLU after the pool
    /// equals the one before it: both keep the order of values and NaN).
    pub(super) fn relu_max(&self, maps: &[f32], out: &mut [f32], rows: &mut [f32]) {
        let ((h, w), (ph, pw)) = (self.input, self.output);
        let (k, s) = (self.kernel, self.stride);
        let rows = &mut rows[..w];
        for (plane, out) in maps.chunks_exact(h * w).zip(out.chunks_exact_mut(ph * pw)) {
            for (y, out) in out.chunks_exact_mut(pw).enumerate() {
                // Down the window's rows first (whole rows, vectorised), then across.
                rows.copy_from_slice(&plane[y * s * w..(y * s + 1) * w]);
                for i in 1..k {
                    let row = &plane[(y * s + i) * w..(y * s + i + 1) * w];
                    for (m, v) in rows.iter_mut().zip(row) {
                        *m = max(*m, *v);
                    }
                }
                for (x, o) in out.iter_mut().enumerate() {
                    let window = &rows[x * s..x * s + k];
                    let m = window[1..].iter().fold(window[0], |m, v| max(m, *v));
                    *o = if m <= 0.0 { 0.0 } else { m };
                }
            }
        }
    }
}

/// The larger of two values, NaN when either is.
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() { b } else { a }
}
