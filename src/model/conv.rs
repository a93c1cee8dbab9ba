//! AlexNet's convolutions (with the ReLU after each, and the max pool where one follows)
//! on the CPU backend: each image's patches laid out once, in torchvision's weight order
//! (im2col), one matrix product per image with the `gemm` crate, the one Burn's CPU
//! backend itself multiplies with, and the pool taken from the thread's buffer of
//! full-size maps, which never become a tensor; images side by side on every core.
//!
//! Burn's own CPU convolution cuts every image into tiles of 512 output pixels, a product
//! each, first converts the whole batch to channels-last on one thread, and reorders its
//! weights at every call; its max pool is scalar, with a division per window, and writes
//! an index for every output beside it. `lesion bench` times both on every layer of the
//! model it runs ("conv1 + pool" ...). At full size on 100 images, 2 cores: 1.62x Burn's
//! for conv1 and its pool, 1.37x for conv2's, 1.12x, 0.99x and 1.20x for conv3, conv4
//! and conv5 with its pool; the whole pipeline went from 0.90x PyTorch's speed to
//! 1.15-1.18x when the pools moved in here. Any other device runs Burn's.

use std::cell::RefCell;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

mod pool;

use pool::Pool;

/// `relu(conv(x))` on the CPU backend for a convolution with a square kernel and stride,
/// the same padding on every side, one group and no dilation (AlexNet's five), and then
/// `pool` when given (a square window and stride, no padding or dilation: AlexNet's 3x3,
/// stride 2), each image's full-size maps never leaving its thread's buffer. Anything
/// else (another device, another precision, another geometry) gives `x` back untouched,
/// for Burn to run.
#[allow(clippy::result_large_err)] // the input itself comes back, for Burn to run
pub fn conv_relu_cpu(
    conv: &Conv2d,
    x: Tensor<4>,
    pool: Option<&MaxPool2d>,
) -> Result<Tensor<4>, Tensor<4>> {
    let Some(shape) = Shape::of(conv, &x) else {
        return Err(x);
    };
    let (oh, ow) = shape.output();
    let pool = match pool.map(|pool| Pool::of(pool, oh, ow)) {
        None => None,
        Some(Some(pool)) => Some(pool),
        Some(None) => return Err(x),
    };
    let device = x.device();
    let n = x.dims()[0];
    let out_c = conv.weight.dims()[0];
    let f32s = |data: TensorData| data.try_into_vec::<f32>().expect("checked to be f32");
    let weight = f32s(conv.weight.val().into_data());
    let bias = conv.bias.as_ref().map(|b| f32s(b.val().into_data()));
    // The input's own buffer when nothing else holds it (no copy on this backend).
    let input = f32s(x.into_data());
    let (h, w) = pool.map_or((oh, ow), |pool| pool.output);
    let mut out = vec![0.0f32; n * out_c * h * w];
    convolve(
        &shape,
        pool,
        &weight,
        bias.as_deref(),
        &input,
        &mut out,
        out_c,
    );
    drop(input);
    Ok(Tensor::from_data(
        TensorData::new(out, [n, out_c, h, w]),
        &device,
    ))
}

/// One convolution's geometry (square kernel and stride, the same padding on every side).
#[derive(Debug, Clone, Copy)]
struct Shape {
    in_c: usize,
    h: usize,
    w: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
}

impl Shape {
    /// The geometry of `conv` on `x`, when this module runs it.
    fn of(conv: &Conv2d, x: &Tensor<4>) -> Option<Shape> {
        let f32s = x.dtype() == DType::F32
            && conv.weight.dtype() == DType::F32
            && conv.bias.as_ref().is_none_or(|b| b.dtype() == DType::F32);
        if x.device() != Device::flex() || !f32s {
            return None;
        }
        let PaddingConfig2d::Explicit(pad, right, top, bottom) = conv.padding else {
            return None;
        };
        let [stride, stride_w] = conv.stride;
        let [_, in_c, kernel, kernel_w] = conv.weight.dims();
        let [_, x_c, h, w] = x.dims();
        let simple = [right, top, bottom] == [pad; 3]
            && stride == stride_w
            && stride > 0
            && kernel == kernel_w
            && conv.dilation == [1, 1]
            && conv.groups == 1
            && x_c == in_c;
        (simple && h + 2 * pad >= kernel && w + 2 * pad >= kernel).then_some(Shape {
            in_c,
            h,
            w,
            kernel,
            stride,
            pad,
        })
    }

    fn output(&self) -> (usize, usize) {
        let side = |len: usize| (len + 2 * self.pad - self.kernel) / self.stride + 1;
        (side(self.h), side(self.w))
    }

    /// Rows of one image's patch matrix: `in_c * kernel * kernel`, torchvision's order.
    fn rows(&self) -> usize {
        self.in_c * self.kernel * self.kernel
    }

    /// The patch matrix of one image `[in_c, h, w]`: row `(c, i, j)`, column `(y, x)` holds
    /// the input at `(c, y * stride + i - pad, x * stride + j - pad)`, zero in the padding.
    fn im2col(&self, image: &[f32], col: &mut [f32]) {
        let (oh, ow) = self.output();
        let (k, s, p) = (self.kernel, self.stride, self.pad);
        for (row, dst) in col.chunks_exact_mut(oh * ow).enumerate() {
            let (c, i, j) = (row / (k * k), row / k % k, row % k);
            let plane = &image[c * self.h * self.w..(c + 1) * self.h * self.w];
            // The output columns whose input column x * s + j - p lies inside the image.
            let first = p.saturating_sub(j).div_ceil(s);
            let last = (self.w + p).saturating_sub(j).div_ceil(s).min(ow);
            for (y, dst) in dst.chunks_exact_mut(ow).enumerate() {
                let iy = (y * s + i).wrapping_sub(p);
                if iy >= self.h || first >= last {
                    dst.fill(0.0);
                    continue;
                }
                let src = &plane[iy * self.w..(iy + 1) * self.w];
                dst[..first].fill(0.0);
                dst[last..].fill(0.0);
                let x0 = first * s + j - p;
                if s == 1 {
                    dst[first..last].copy_from_slice(&src[x0..x0 + (last - first)]);
                } else {
                    for (d, v) in dst[first..last].iter_mut().zip(src[x0..].iter().step_by(s)) {
                        *d = *v;
                    }
                }
            }
        }
    }

    /// One image: `out [out_c, oh * ow] = relu(weight [out_c, rows] x col + bias)`, or
    /// with `pool` that pooled (`[out_c, ph, pw]`), the maps in `scratch`. `scratch`
    /// holds [`Shape::scratch`] values.
    #[allow(clippy::too_many_arguments)]
    fn image(
        &self,
        pool: Option<Pool>,
        weight: &[f32],
        bias: Option<&[f32]>,
        image: &[f32],
        scratch: &mut [f32],
        out: &mut [f32],
        parallelism: gemm::Parallelism,
    ) {
        let (oh, ow) = self.output();
        let (col, rest) = scratch.split_at_mut(self.rows() * oh * ow);
        self.im2col(image, col);
        let Some(pool) = pool else {
            self.product(weight, bias, col, out, parallelism);
            for v in out.iter_mut() {
                // NaN stays NaN (a flipped bit's NaN must reach the logits, as in Burn's
                // ReLU).
                if *v <= 0.0 {
                    *v = 0.0;
                }
            }
            return;
        };
        let (maps, rows) = rest.split_at_mut(weight.len() / self.rows() * oh * ow);
        self.product(weight, bias, col, maps, parallelism);
        pool.relu_max(maps, out, rows);
    }

    /// Values of a thread's buffer for one image: its patch matrix, and with a pool its
    /// maps and a row.
    fn scratch(&self, out_c: usize, pool: Option<Pool>) -> usize {
        let (oh, ow) = self.output();
        self.rows() * oh * ow + pool.map_or(0, |_| out_c * oh * ow + ow)
    }

    /// `maps [out_c, oh * ow] = weight [out_c, rows] x col + bias`.
    fn product(
        &self,
        weight: &[f32],
        bias: Option<&[f32]>,
        col: &[f32],
        maps: &mut [f32],
        parallelism: gemm::Parallelism,
    ) {
        let (oh, ow) = self.output();
        let (pixels, rows, out_c) = (oh * ow, self.rows(), weight.len() / self.rows());
        if let Some(bias) = bias {
            for (dst, b) in maps.chunks_exact_mut(pixels).zip(bias) {
                dst.fill(*b);
            }
        }
        // SAFETY: `maps` is `[out_c, pixels]`, `weight` `[out_c, rows]` and `col`
        // `[rows, pixels]`, all row-major and of exactly those lengths.
        unsafe {
            gemm::gemm(
                out_c,
                pixels,
                rows,
                maps.as_mut_ptr(),
                1,
                pixels as isize,
                bias.is_some(),
                weight.as_ptr(),
                1,
                rows as isize,
                col.as_ptr(),
                1,
                pixels as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

thread_local! {
    /// Each thread's patch matrix (and pre-pool maps), kept from call to call: a new one for every task (up to
    /// 4.7 MB at full size, fresh pages each time) made the convolutions several times
    /// slower on a machine of 16 cores.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` with `len` values of this thread's scratch buffer (a buffer of its own if the thread
/// is already using it further up its stack).
fn with_patches(len: usize, f: impl FnOnce(&mut [f32])) {
    PATCHES.with(|kept| match kept.try_borrow_mut() {
        Ok(mut kept) => {
            if kept.len() < len {
                kept.resize(len, 0.0);
            }
            f(&mut kept[..len]);
        }
        Err(_) => f(&mut vec![0.0; len]),
    });
}

/// Every image of `input` (`[n, in_c, h, w]`) into `out` (`[n, out_c, oh, ow]`, or the
/// pooled size).
fn convolve(
    shape: &Shape,
    pool: Option<Pool>,
    weight: &[f32],
    bias: Option<&[f32]>,
    input: &[f32],
    out: &mut [f32],
    out_c: usize,
) {
    let in_len = shape.in_c * shape.h * shape.w;
    let out_len = out.len() / (input.len() / in_len);
    let scratch = shape.scratch(out_c, pool);
    let one = |image, scratch: &mut [f32], out, parallelism| {
        shape.image(pool, weight, bias, image, scratch, out, parallelism)
    };
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        let n = input.len() / in_len;
        let threads = rayon::current_num_threads();
        if n >= threads {
            // An image per task, each thread with its own scratch buffer.
            input
                .par_chunks_exact(in_len)
                .zip(out.par_chunks_exact_mut(out_len))
                .for_each(|(image, out)| {
                    with_patches(scratch, |s| one(image, s, out, gemm::Parallelism::None))
                });
            return;
        }
        // Fewer images than threads: each product on every thread.
        let parallel = gemm::Parallelism::Rayon(threads);
        with_patches(scratch, |s| {
            let images = input
                .chunks_exact(in_len)
                .zip(out.chunks_exact_mut(out_len));
            for (image, out) in images {
                one(image, s, out, parallel);
            }
        });
    }
    #[cfg(target_arch = "wasm32")]
    with_patches(scratch, |s| {
        let images = input
            .chunks_exact(in_len)
            .zip(out.chunks_exact_mut(out_len));
        for (image, out) in images {
            one(image, s, out, gemm::Parallelism::None);
        }
    });
}

#[cfg(test)]
mod tests;
