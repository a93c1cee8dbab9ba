//! The network itself: torchvision's `AlexNet` ("one weird trick" variant), inference only.

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::{Architecture, HostTensor, Layer, Weights};
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

/// What flows between layers: feature maps up to conv5, vectors from fc6 on.
#[derive(Debug, Clone)]
pub enum Activation {
    Maps(Tensor<4>),
    Flat(Tensor<2>),
}

impl Activation {
    fn maps(self) -> Tensor<4> {
        match self {
            Activation::Maps(x) => x,
            Activation::Flat(_) => unreachable!("a convolution receives feature maps"),
        }
    }

    fn flat(self) -> Tensor<2> {
        match self {
            Activation::Flat(x) => x,
            Activation::Maps(_) => unreachable!("a dense layer receives vectors"),
        }
    }
}

impl AlexNet {
    /// Builds the network on `device` from host weights in torchvision's layout (a copy
    /// of each layer at a time; [`AlexNet::from_owned`] moves them instead).
    pub fn from_weights(weights: &Weights, device: &Device) -> Result<Self> {
        Ok(Self::build(weights.architecture(), device, |layer| {
            (weights.weight(layer).clone(), weights.bias(layer).clone())
        }))
    }

    /// [`AlexNet::from_weights`], moving the values to `device` without a copy on the host
    /// (on the CPU backend the model's tensors are the very same buffers).
    pub fn from_owned(weights: Weights, device: &Device) -> Result<Self> {
        let arch = weights.architecture();
        let mut tensors = weights.into_tensors();
        Ok(Self::build(arch, device, |layer| {
            let mut take =
                |key: String| tensors.remove(&key).expect("checked: every layer is there");
            (take(layer.weight_key()), take(layer.bias_key()))
        }))
    }

    fn build(
        arch: Architecture,
        device: &Device,
        mut layer_tensors: impl FnMut(Layer) -> (HostTensor, HostTensor),
    ) -> Self {
        let mut conv = |layer: Layer| -> Conv2d {
            let (weight, bias) = layer_tensors(layer);
            Self::conv_alone(layer, weight, bias, device)
        };
        let (conv1, conv2, conv3) = (conv(Layer::Conv1), conv(Layer::Conv2), conv(Layer::Conv3));
        let (conv4, conv5) = (conv(Layer::Conv4), conv(Layer::Conv5));
        let mut linear = |layer: Layer| -> Linear {
            let [out, inp] = arch.channels(layer);
            let mut linear = LinearConfig::new(inp, out).init(device);
            let (weight, bias) = layer_tensors(layer);
            set_linear(&mut linear, weight, bias, device);
            linear
        };
        Self {
            conv1,
            conv2,
            conv3,
            conv4,
            conv5,
            fc6: linear(Layer::Fc6),
            fc7: linear(Layer::Fc7),
            fc8: linear(Layer::Fc8),
            pool: max_pool(),
            avgpool: AdaptiveAvgPool2dConfig::new([6, 6]).init(),
            relu: Relu::new(),
        }
    }

    /// Convolution `layer` alone, with these parameters (`weight` in torchvision's layout,
    /// `[out, in, k, k]`): the model's own, or what a look inside runs one image through.
    pub fn conv_alone(
        layer: Layer,
        weight: HostTensor,
        bias: HostTensor,
        device: &Device,
    ) -> Conv2d {
        let (kernel, stride, pad) = layer.conv_geometry();
        let (out, inp) = (weight.shape()[0], weight.shape()[1]);
        let mut conv = Conv2dConfig::new([inp, out], [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .init(device);
        set_conv(&mut conv, weight, bias, device);
        conv
    }

    /// Takes `layer`'s weight out of the model on the CPU backend, as an f32 buffer in
    /// torchvision's order: the model's own buffer when nothing else holds it, for the
    /// next version of the layer to be written into (see [`AlexNet::set_layer`], which
    /// must follow before the model runs again). On a GPU an empty buffer (nothing is
    /// read back), and the model keeps its weight.
    ///
    /// A move of a slider then allocates no layer-sized buffer: in WebAssembly, whose
    /// memory never shrinks, a new 151 MB fc6 beside the old one at every move left holes
    /// that smaller allocations split, and the memory grew with the number of moves.
    pub fn take_weight(&mut self, layer: Layer, device: &Device) -> Vec<f32> {
        if *device != Device::flex() {
            return Vec::new();
        }
        let take = |param: &mut Param<Tensor<4>>| -> Tensor<4> {
            let empty = Tensor::<4>::empty([0; 4], device);
            std::mem::replace(param, Param::from_tensor(empty)).into_value()
        };
        let take_linear = |param: &mut Param<Tensor<2>>| -> Tensor<2> {
            let empty = Tensor::<2>::empty([0; 2], device);
            // Stored transposed (see `set_linear`): transposed back, it is the
            // torchvision-ordered buffer it was made from.
            std::mem::replace(param, Param::from_tensor(empty))
                .into_value()
                .transpose()
        };
        let data = match layer {
            Layer::Conv1 => take(&mut self.conv1.weight).into_data(),
            Layer::Conv2 => take(&mut self.conv2.weight).into_data(),
            Layer::Conv3 => take(&mut self.conv3.weight).into_data(),
            Layer::Conv4 => take(&mut self.conv4.weight).into_data(),
            Layer::Conv5 => take(&mut self.conv5.weight).into_data(),
            Layer::Fc6 => take_linear(&mut self.fc6.weight).into_data(),
            Layer::Fc7 => take_linear(&mut self.fc7.weight).into_data(),
            Layer::Fc8 => take_linear(&mut self.fc8.weight).into_data(),
        };
        data.try_into_vec::<f32>().unwrap_or_default()
    }

    /// A copy of `layer`'s weight in torchvision's order, read on the CPU backend (where
    /// reading is immediate): the intact values of a layer whose weight the session lent
    /// to the model (see `eval::Intact::lend`).
    pub fn weight_values(&self, layer: Layer) -> Vec<f32> {
        let data = match layer {
            Layer::Conv1 => self.conv1.weight.val().into_data(),
            Layer::Conv2 => self.conv2.weight.val().into_data(),
            Layer::Conv3 => self.conv3.weight.val().into_data(),
            Layer::Conv4 => self.conv4.weight.val().into_data(),
            Layer::Conv5 => self.conv5.weight.val().into_data(),
            // Stored transposed (see `set_linear`).
            Layer::Fc6 => self.fc6.weight.val().transpose().into_data(),
            Layer::Fc7 => self.fc7.weight.val().transpose().into_data(),
            Layer::Fc8 => self.fc8.weight.val().transpose().into_data(),
        };
        data.try_into_vec::<f32>()
            .unwrap_or_else(|_| panic!("the model's weights are f32"))
    }

    /// Replaces one layer's parameters (same shapes, torchvision's layout). The old
    /// tensors are released, so the model never holds two versions of a layer.
    pub fn set_layer(
        &mut self,
        layer: Layer,
        weight: HostTensor,
        bias: HostTensor,
        device: &Device,
    ) {
        match layer {
            Layer::Conv1 => set_conv(&mut self.conv1, weight, bias, device),
            Layer::Conv2 => set_conv(&mut self.conv2, weight, bias, device),
            Layer::Conv3 => set_conv(&mut self.conv3, weight, bias, device),
            Layer::Conv4 => set_conv(&mut self.conv4, weight, bias, device),
            Layer::Conv5 => set_conv(&mut self.conv5, weight, bias, device),
            Layer::Fc6 => set_linear(&mut self.fc6, weight, bias, device),
            Layer::Fc7 => set_linear(&mut self.fc7, weight, bias, device),
            Layer::Fc8 => set_linear(&mut self.fc8, weight, bias, device),
        }
    }

    /// One layer and what follows it up to the next layer's input: activation and pooling
    /// after a convolution (and the 6x6 average pool and flattening after conv5), ReLU
    /// after fc6 and fc7. fc8 gives the logits.
    pub fn stage(&self, layer: Layer, x: Activation) -> Activation {
        let conv = |conv: &Conv2d, x: Activation| {
            if layer.pooled() {
                self.conv_relu_pool(conv, x.maps())
            } else {
                conv_relu(conv, x.maps())
            }
        };
        match layer {
            Layer::Conv1 => Activation::Maps(conv(&self.conv1, x)),
            Layer::Conv2 => Activation::Maps(conv(&self.conv2, x)),
            Layer::Conv3 => Activation::Maps(conv(&self.conv3, x)),
            Layer::Conv4 => Activation::Maps(conv(&self.conv4, x)),
            Layer::Conv5 => {
                let y = conv(&self.conv5, x);
                // The 6x6 average pool leaves maps of 6x6 as they are (a mean of one value
                // each): only other input sizes need it.
                let y = if y.dims()[2..] == [6, 6] {
                    y
                } else {
                    self.avgpool.forward(y)
                };
                Activation::Flat(y.flatten(1, 3))
            }
            Layer::Fc6 => Activation::Flat(self.relu.forward(self.fc6.forward(x.flat()))),
            Layer::Fc7 => Activation::Flat(self.relu.forward(self.fc7.forward(x.flat()))),
            Layer::Fc8 => Activation::Flat(self.fc8.forward(x.flat())),
        }
    }

    /// A convolution, the ReLU after it and the max pool after that: on the CPU backend
    /// [`super::conv`]'s, in one pass per image; elsewhere Burn's.
    pub fn conv_relu_pool(&self, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        super::conv::conv_relu_cpu(conv, x, Some(&self.pool)).unwrap_or_else(|x| {
            self.pool
                .forward(burn::tensor::activation::relu(conv.forward(x)))
        })
    }

    /// The features entering fc6 (`[N, 9216]`) for normalised images `[N, 3, 224, 224]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        Layer::CONV
            .into_iter()
            .fold(Activation::Maps(x), |x, layer| self.stage(layer, x))
            .flat()
    }

    /// Logits from the features entering fc6.
    pub fn dense(&self, x: Tensor<2>) -> Tensor<2> {
        Layer::DENSE
            .into_iter()
            .fold(Activation::Flat(x), |x, layer| self.stage(layer, x))
            .flat()
    }

    /// Logits for a batch of normalised images `[N, 3, 224, 224]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.dense(self.features(x))
    }
}

/// AlexNet's max pool after conv1, conv2 and conv5 ([`Layer::pooled`]): 3x3, stride 2.
pub fn max_pool() -> MaxPool2d {
    MaxPool2dConfig::new([3, 3]).with_strides([2, 2]).init()
}

/// A convolution and the ReLU after it: on the CPU backend [`super::conv`]'s, elsewhere
/// Burn's.
pub fn conv_relu(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    super::conv::conv_relu_cpu(conv, x, None)
        .unwrap_or_else(|x| burn::tensor::activation::relu(conv.forward(x)))
}

fn set_conv(conv: &mut Conv2d, weight: HostTensor, bias: HostTensor, device: &Device) {
    conv.weight = Param::from_tensor(weight.into_tensor::<4>(device));
    conv.bias = Some(Param::from_tensor(bias.into_tensor::<1>(device)));
}

/// torchvision stores [out, in]; Burn's Linear multiplies by [in, out].
fn set_linear(linear: &mut Linear, weight: HostTensor, bias: HostTensor, device: &Device) {
    linear.weight = Param::from_tensor(weight.into_tensor::<2>(device).transpose());
    linear.bias = Some(Param::from_tensor(bias.into_tensor::<1>(device)));
}
