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
