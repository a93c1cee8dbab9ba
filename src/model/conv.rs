//! AlexNet's convolutions (and the ReLU after each) on the CPU backend: each image's
//! patches laid out once, in torchvision's weight order (im2col), and one matrix product
//! per image with the `gemm` crate, the one Burn's CPU backend itself multiplies with;
//! images side by side on every core.
//!
//! Burn's own CPU convolution cuts every image into tiles of 512 output pixels, a product
//! each, first converts the whole batch to channels-last on one thread, and reorders its
//! weights at every call. `lesion bench` times both on every layer of the model it runs
//! ("convolutions"). At full size on 100 images: level with Burn's on 2 cores
//! (1.00-1.10x per layer), 1.35-1.69x faster on 16 (a build whose dependencies kept their
//! debug assertions). In the page (WebAssembly, one thread) a full evaluation of 100
//! images took 5.9 s, where it took 9.1 s with Burn's at the previous measurement
//! (`./dev bench-page`). Any other device runs Burn's.

use std::cell::RefCell;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// `relu(conv(x))` on the CPU backend for a convolution with a square kernel and stride,
/// the same padding on every side, one group and no dilation (AlexNet's five). Anything
/// else (another device, another precision, another geometry) gives `x` back untouched,
/// for Burn to run.
#[allow(clippy::result_large_err)] // the input itself comes back, for Burn to run
pub fn conv_relu_cpu(conv: &Conv2d, x: Tensor<4>) -> Result<Tensor<4>, Tensor<4>> {
    let Some(shape) = Shape::of(conv, &x) else {
        return Err(x);
    };
    let device = x.device();
    let n = x.dims()[0];
    let out_c = conv.weight.dims()[0];
    let f32s = |data: TensorData| data.try_into_vec::<f32>().expect("checked to be f32");
    let weight = f32s(conv.weight.val().into_data());
    let bias = conv.bias.as_ref().map(|b| f32s(b.val().into_data()));
    // The input's own buffer when nothing else holds it (no copy on this backend).
    let input = f32s(x.into_data());
    let (oh, ow) = shape.output();
    let mut out = vec![0.0f32; n * out_c * oh * ow];
    convolve(&shape, &weight, bias.as_deref(), &input, &mut out, out_c);
    drop(input);
    Ok(Tensor::from_data(
        TensorData::new(out, [n, out_c, oh, ow]),
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

    /// One image: `out [out_c, oh * ow] = relu(weight [out_c, rows] x col + bias)`.
    fn image(
        &self,
        weight: &[f32],
        bias: Option<&[f32]>,
        image: &[f32],
        col: &mut [f32],
        out: &mut [f32],
        parallelism: gemm::Parallelism,
    ) {
        let (oh, ow) = self.output();
        let (pixels, rows, out_c) = (oh * ow, self.rows(), weight.len() / self.rows());
        self.im2col(image, col);
        if let Some(bias) = bias {
            for (dst, b) in out.chunks_exact_mut(pixels).zip(bias) {
                dst.fill(*b);
            }
        }
        // SAFETY: `out` is `[out_c, pixels]`, `weight` `[out_c, rows]` and `col`
        // `[rows, pixels]`, all row-major and of exactly those lengths.
        unsafe {
            gemm::gemm(
                out_c,
                pixels,
                rows,
                out.as_mut_ptr(),
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
        for v in out.iter_mut() {
            // NaN stays NaN (a flipped bit's NaN must reach the logits, as in Burn's ReLU).
            if *v <= 0.0 {
                *v = 0.0;
            }
        }
    }
}

thread_local! {
    /// Each thread's patch matrix, kept from call to call: a new one for every task (up to
    /// 4.7 MB at full size, fresh pages each time) made the convolutions several times
    /// slower on a machine of 16 cores.
    static PATCHES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `f` with `len` values of this thread's patch matrix (a buffer of its own if the thread
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

/// Every image of `input` (`[n, in_c, h, w]`) into `out` (`[n, out_c, oh, ow]`).
fn convolve(
    shape: &Shape,
    weight: &[f32],
    bias: Option<&[f32]>,
    input: &[f32],
    out: &mut [f32],
    out_c: usize,
) {
    let (oh, ow) = shape.output();
    let (in_len, out_len, col_len) = (
        shape.in_c * shape.h * shape.w,
        out_c * oh * ow,
        shape.rows() * oh * ow,
    );
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        let n = input.len() / in_len;
        let threads = rayon::current_num_threads();
        if n >= threads {
            // An image per task, each thread with its own patch matrix.
            input
                .par_chunks_exact(in_len)
                .zip(out.par_chunks_exact_mut(out_len))
                .for_each(|(image, out)| {
                    with_patches(col_len, |col| {
                        shape.image(weight, bias, image, col, out, gemm::Parallelism::None)
                    })
                });
            return;
        }
        // Fewer images than threads: each product on every thread.
        let parallel = gemm::Parallelism::Rayon(threads);
        with_patches(col_len, |col| {
            let images = input
                .chunks_exact(in_len)
                .zip(out.chunks_exact_mut(out_len));
            for (image, out) in images {
                shape.image(weight, bias, image, col, out, parallel);
            }
        });
    }
    #[cfg(target_arch = "wasm32")]
    with_patches(col_len, |col| {
        let images = input
            .chunks_exact(in_len)
            .zip(out.chunks_exact_mut(out_len));
        for (image, out) in images {
            shape.image(weight, bias, image, col, out, gemm::Parallelism::None);
        }
    });
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
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
        let ours = conv_relu_cpu(conv, x.clone()).expect("a geometry this module runs");
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

    #[test]
    fn other_geometries_and_devices_are_left_to_burn() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 2, 8, 8], Distribution::Default, &device);
        let uneven = Conv2dConfig::new([2, 3], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 0))
            .init(&device);
        assert!(conv_relu_cpu(&uneven, x.clone()).is_err());
        let dilated = Conv2dConfig::new([2, 3], [3, 3])
            .with_dilation([2, 2])
            .init(&device);
        assert!(conv_relu_cpu(&dilated, x.clone()).is_err());
        let grouped = Conv2dConfig::new([2, 4], [3, 3])
            .with_groups(2)
            .init(&device);
        assert!(conv_relu_cpu(&grouped, x.clone()).is_err());
        let rectangular = Conv2dConfig::new([2, 3], [3, 5]).init(&device);
        assert!(conv_relu_cpu(&rectangular, x.clone()).is_err());
        assert!(conv_relu_cpu(&conv(2, 3, 3, 1, 1), x).is_ok());
    }
}
