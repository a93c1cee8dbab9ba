//! The network itself: torchvision's `AlexNet` ("one weird trick" variant), inference only.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::weights::{Architecture, Layer, Weights};
use crate::error::Result;

/// torchvision's AlexNet: five convolutions, three max-pools, an adaptive average pool to
/// 6x6 and three fully connected layers. Dropout is inactive at inference and omitted.
#[derive(Module, Debug)]
pub struct AlexNet {
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    conv4: Conv2d,
    conv5: Conv2d,
    fc6: Linear,
    fc7: Linear,
    fc8: Linear,
    pool: MaxPool2d,
    avgpool: AdaptiveAvgPool2d,
    relu: Relu,
}

impl AlexNet {
    /// Builds the network on `device` from host weights in torchvision's layout.
    pub fn from_weights(weights: &Weights, device: &Device) -> Result<Self> {
        let arch = Architecture::from_weights(weights)?;
        let conv = |layer: Layer| -> Conv2d {
            let (kernel, stride, pad) = layer.conv_geometry();
            let [out, inp] = arch.channels(layer);
            let mut conv = Conv2dConfig::new([inp, out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .init(device);
            conv.weight = Param::from_tensor(weights.weight(layer).to_tensor::<4>(device));
            conv.bias = Some(Param::from_tensor(
                weights.bias(layer).to_tensor::<1>(device),
            ));
            conv
        };
        let linear = |layer: Layer| -> Linear {
            let [out, inp] = arch.channels(layer);
            let mut linear = LinearConfig::new(inp, out).init(device);
            // torchvision stores [out, in]; Burn's Linear multiplies by [in, out].
            let weight = weights.weight(layer).to_tensor::<2>(device).transpose();
            linear.weight = Param::from_tensor(weight);
            linear.bias = Some(Param::from_tensor(
                weights.bias(layer).to_tensor::<1>(device),
            ));
            linear
        };
        Ok(Self {
            conv1: conv(Layer::Conv1),
            conv2: conv(Layer::Conv2),
            conv3: conv(Layer::Conv3),
            conv4: conv(Layer::Conv4),
            conv5: conv(Layer::Conv5),
            fc6: linear(Layer::Fc6),
            fc7: linear(Layer::Fc7),
            fc8: linear(Layer::Fc8),
            pool: MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init(),
            avgpool: AdaptiveAvgPool2dConfig::new([6, 6]).init(),
            relu: Relu::new(),
        })
    }

    /// Logits for a batch of normalised images `[N, 3, 224, 224]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.pool.forward(self.relu.forward(self.conv1.forward(x)));
        let x = self.pool.forward(self.relu.forward(self.conv2.forward(x)));
        let x = self.relu.forward(self.conv3.forward(x));
        let x = self.relu.forward(self.conv4.forward(x));
        let x = self.pool.forward(self.relu.forward(self.conv5.forward(x)));
        let x = self.avgpool.forward(x);
        let x: Tensor<2> = x.flatten(1, 3);
        let x = self.relu.forward(self.fc6.forward(x));
        let x = self.relu.forward(self.fc7.forward(x));
        self.fc8.forward(x)
    }
}
