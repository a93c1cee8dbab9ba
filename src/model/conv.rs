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

/// A max pool over one convolution's maps: square window and stride, no padding.
#[derive(Debug, Clone, Copy)]
struct Pool {
    kernel: usize,
    stride: usize,
    /// The maps' height and width, and the pooled ones.
    input: (usize, usize),
    output: (usize, usize),
}

impl Pool {
    /// `pool` over maps of `h` x `w`, when this module runs it.
    fn of(pool: &MaxPool2d, h: usize, w: usize) -> Option<Pool> {
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
    fn relu_max(&self, maps: &[f32], out: &mut [f32], rows: &mut [f32]) {
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
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Distribution;

    use super::*;

    fn conv(in_c: usize, out_c: usize, kernel: usize, stride: usize, pad: usize) -> Conv2d {
        let device = Device::flex();
        let mut conv = Conv2dConfig::new([in_c, out_c], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .init(&device);
        // Biases of both signs, so the ReLU cuts somewhere.
        let bias = Tensor::<1>::random([out_c], Distribution::Uniform(-0.5, 0.5), &device);
        conv.bias = Some(burn::module::Param::from_tensor(bias));
        conv
    }

    fn values(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec().unwrap()
    }

    /// This module's result and Burn's for `conv` on `x`, with their shapes.
    fn both(conv: &Conv2d, x: &Tensor<4>) -> (Vec<f32>, Vec<f32>) {
        let ours = conv_relu_cpu(conv, x.clone(), None).expect("a geometry this module runs");
        let burns = burn::tensor::activation::relu(conv.forward(x.clone()));
        assert_eq!(ours.dims(), burns.dims());
        (values(ours), values(burns))
    }

    #[test]
    fn equals_burns_convolution_for_alexnets_geometries_and_odd_ones() {
        let device = Device::flex();
        // (in, out, kernel, stride, pad, height, width): AlexNet's five (narrow, on small
        // maps), then strides and paddings that leave ragged edges, and a map no wider
        // than the kernel.
        let cases = [
            (3, 8, 11, 4, 2, 35, 31),
            (8, 12, 5, 1, 2, 13, 11),
            (12, 16, 3, 1, 1, 7, 9),
            (5, 7, 3, 2, 0, 10, 9),
            (4, 6, 4, 3, 3, 8, 13),
            (2, 3, 5, 1, 0, 5, 5),
            (2, 3, 11, 4, 5, 1, 2),
        ];
        let (mut cut, mut kept) = (0, 0);
        for (in_c, out_c, k, s, p, h, w) in cases {
            let conv = conv(in_c, out_c, k, s, p);
            // One image (each product on every thread) and several (an image per task).
            for n in [1, 5] {
                let x = Tensor::<4>::random([n, in_c, h, w], Distribution::Default, &device);
                let (ours, burns) = both(&conv, &x);
                let scale = burns.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                let worst = ours
                    .iter()
                    .zip(&burns)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                let case = (in_c, out_c, k, s, p, h, w, n);
                assert!(
                    worst <= 1e-5 * scale,
                    "{case:?}: off by {worst} (scale {scale})"
                );
                cut += ours.iter().filter(|v| **v == 0.0).count();
                kept += ours.iter().filter(|v| **v > 0.0).count();
            }
        }
        // The ReLU both cut and kept (thousands of outputs of either sign).
        assert!(cut > 1000 && kept > 1000, "cut {cut}, kept {kept}");
    }

    #[test]
    fn a_non_finite_weight_reaches_the_same_outputs_as_in_burns() {
        let device = Device::flex();
        let mut conv = conv(3, 4, 5, 2, 2);
        let mut w: Vec<f32> = conv.weight.val().into_data().try_to_vec().unwrap();
        w[1] = f32::NAN; // filter 0
        w[3 * 25 * 2 + 7] = f32::INFINITY; // filter 2
        let data = TensorData::new(w, [4, 3, 5, 5]);
        conv.weight = burn::module::Param::from_tensor(Tensor::from_data(data, &device));
        let x = Tensor::<4>::random([3, 3, 9, 9], Distribution::Default, &device);
        let (ours, burns) = both(&conv, &x);
        let kind = |v: &f32| (v.is_nan(), v.is_infinite());
        assert_eq!(
            ours.iter().map(kind).collect::<Vec<_>>(),
            burns.iter().map(kind).collect::<Vec<_>>()
        );
        assert!(ours.iter().any(|v| v.is_nan()));
    }

    /// Burn's `max_pool(relu(conv(x)))` against this module's single pass.
    fn pooled_both(conv: &Conv2d, pool: &MaxPool2d, x: &Tensor<4>) -> (Vec<f32>, Vec<f32>) {
        let ours = conv_relu_cpu(conv, x.clone(), Some(pool)).expect("a pool this module runs");
        let burns = pool.forward(burn::tensor::activation::relu(conv.forward(x.clone())));
        assert_eq!(ours.dims(), burns.dims());
        (values(ours), values(burns))
    }

    #[test]
    fn a_pool_after_the_convolution_equals_burns_exactly() {
        let device = Device::flex();
        // (in, out, kernel, stride, pad, height, width, pool window, pool stride):
        // AlexNet's conv1 and conv2 with their 3x3 / 2 pool on small maps, maps whose last
        // window ends short of the edge, a pool as large as the maps, overlapping and
        // disjoint windows.
        let cases = [
            (3, 8, 11, 4, 2, 35, 31, 3, 2),
            (8, 12, 5, 1, 2, 13, 11, 3, 2),
            (4, 5, 3, 1, 1, 8, 10, 3, 2),
            (2, 3, 3, 1, 0, 5, 6, 3, 3),
            (2, 4, 3, 1, 1, 6, 7, 2, 2),
        ];
        let (mut cut, mut kept) = (0, 0);
        for (in_c, out_c, k, s, p, h, w, pk, ps) in cases {
            let conv = conv(in_c, out_c, k, s, p);
            let pool = MaxPool2dConfig::new([pk, pk]).with_strides([ps, ps]).init();
            for n in [1, 4] {
                let x = Tensor::<4>::random([n, in_c, h, w], Distribution::Default, &device);
                let (ours, burns) = pooled_both(&conv, &pool, &x);
                let case = (in_c, out_c, k, s, p, h, w, pk, ps, n);
                // Max and ReLU round nothing: the same products give the same values.
                let (conv_ours, conv_burns) = both(&conv, &x);
                let worst = conv_ours
                    .iter()
                    .zip(&conv_burns)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                let pooled_worst = ours
                    .iter()
                    .zip(&burns)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(pooled_worst <= worst, "{case:?}: {pooled_worst} > {worst}");
                cut += ours.iter().filter(|v| **v == 0.0).count();
                kept += ours.iter().filter(|v| **v > 0.0).count();
            }
        }
        // The ReLU both cut and kept.
        assert!(cut > 50 && kept > 500, "cut {cut}, kept {kept}");
    }

    #[test]
    fn a_nan_in_a_pooled_window_reaches_the_same_outputs_as_in_burns() {
        let device = Device::flex();
        let mut conv = conv(3, 4, 3, 1, 1);
        let mut w: Vec<f32> = conv.weight.val().into_data().try_to_vec().unwrap();
        w[1] = f32::NAN; // filter 0: every map NaN
        w[3 * 9 * 2 + 4] = f32::INFINITY; // filter 2: +inf or NaN
        w[3 * 9 * 3 + 4] = f32::NEG_INFINITY; // filter 3: -inf (cut by the ReLU) or NaN
        let data = TensorData::new(w, [4, 3, 3, 3]);
        conv.weight = burn::module::Param::from_tensor(Tensor::from_data(data, &device));
        let pool = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
        let mut x: Vec<f32> = Tensor::<4>::random([2, 3, 9, 9], Distribution::Default, &device)
            .into_data()
            .try_to_vec()
            .unwrap();
        x[40] = f32::NAN; // one NaN pixel in image 0: NaN in the windows around it
        let x = Tensor::<4>::from_data(TensorData::new(x, [2, 3, 9, 9]), &device);
        let (ours, burns) = pooled_both(&conv, &pool, &x);
        let kind = |v: &f32| (v.is_nan(), v.is_infinite(), *v == 0.0);
        assert_eq!(
            ours.iter().map(kind).collect::<Vec<_>>(),
            burns.iter().map(kind).collect::<Vec<_>>()
        );
        let nans = ours.iter().filter(|v| v.is_nan()).count();
        assert!(
            nans > 16 && nans < ours.len(),
            "{nans} NaN of {}",
            ours.len()
        );
    }

    #[test]
    fn other_pools_are_left_to_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 2, 8, 8], Distribution::Default, &device);
        let conv = conv(2, 3, 3, 1, 1);
        let padded = MaxPool2dConfig::new([3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init();
        let ceil = MaxPool2dConfig::new([3, 3]).with_ceil_mode(true).init();
        let wider = MaxPool2dConfig::new([9, 9]).init();
        let oblong = MaxPool2dConfig::new([3, 2]).init();
        for pool in [padded, ceil, wider, oblong] {
            assert!(
                conv_relu_cpu(&conv, x.clone(), Some(&pool)).is_err(),
                "{pool:?}"
            );
        }
        let alexnets = MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init();
        assert!(conv_relu_cpu(&conv, x, Some(&alexnets)).is_ok());
    }

    #[test]
    fn other_geometries_and_devices_are_left_to_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 2, 8, 8], Distribution::Default, &device);
        let uneven = Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 0))
            .init(&device);
        assert!(conv_relu_cpu(&uneven, x.clone(), None).is_err());
        let dilated = Conv2dConfig::new([2, 3], [3, 3])
            .with_dilation([2, 2])
            .init(&device);
        assert!(conv_relu_cpu(&dilated, x.clone(), None).is_err());
        let grouped = Conv2dConfig::new([2, 4], [3, 3])
            .with_groups(2)
            .init(&device);
        assert!(conv_relu_cpu(&grouped, x.clone(), None).is_err());
        let rectangular = Conv2dConfig::new([2, 3], [3, 5]).init(&device);
        assert!(conv_relu_cpu(&rectangular, x.clone(), None).is_err());
        assert!(conv_relu_cpu(&conv(2, 3, 3, 1, 1), x, None).is_ok());
    }
}
