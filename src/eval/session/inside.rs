//! [`Session::look_inside`]: conv1's filters and one image's conv1 feature maps, intact
//! and under some settings, from the weights the session damages layers with.

use burn::prelude::*;

use super::{Session, states};
use crate::error::{LesionError, Result};
use crate::eval::inside::{self, Inside};
use crate::eval::run::BATCH;
use crate::model::{AlexNet, HostTensor, Layer, conv_relu};
use crate::perturb::Settings;

impl Session {
    /// What conv1 looks like under `settings` (only conv1's damage matters), and what it
    /// makes of image `image`: the filters are the very weights an evaluation of
    /// `settings` runs conv1 with, the maps its output after ReLU. Changes nothing the
    /// session holds.
    pub async fn look_inside(&self, settings: &Settings, image: usize) -> Result<Inside> {
        if image >= self.images {
            return Err(LesionError::Model(format!(
                "there is no image {image}: the session has {}",
                self.images
            )));
        }
        let layer = Layer::Conv1;
        let (weight, bias) = self.layer_tensors(layer, None);
        let state = states(settings)[0];
        let (damaged, damaged_bias) = self.layer_tensors(layer, state);
        let scale = inside::filter_scale(weight.data());
        let filters_intact = inside::filters(weight.shape(), weight.data(), scale)?;
        let filters = inside::filters(damaged.shape(), damaged.data(), scale)?;
        let x = self.inputs[image / BATCH].image(image % BATCH, &self.device);
        let (shape, intact_maps) = self.conv1_maps(x.clone(), weight, bias).await?;
        let (_, maps) = self.conv1_maps(x, damaged, damaged_bias).await?;
        let scales = inside::map_scales(&intact_maps, shape[0]);
        let mut drawn = Settings {
            seed: settings.seed,
            ..Settings::default()
        };
        if let Some((damage, _)) = state {
            drawn.layers.insert(layer, damage);
        }
        Ok(Inside {
            settings: drawn,
            image,
            filter_scale: scale,
            filters_intact,
            filters,
            maps_intact: inside::feature_maps(shape, &intact_maps, &scales)?,
            maps: inside::feature_maps(shape, &maps, &scales)?,
        })
    }

    /// conv1 with these parameters, then ReLU, on one image: `[channels, h, w]` and values.
    async fn conv1_maps(
        &self,
        x: Tensor<4>,
        weight: HostTensor,
        bias: HostTensor,
    ) -> Result<([usize; 3], Vec<f32>)> {
        let conv = AlexNet::conv_alone(Layer::Conv1, weight, bias, &self.device);
        let y = conv_relu(&conv, x);
        let [_, channels, h, w] = y.dims();
        let data = y
            .into_data_async()
            .await
            .map_err(|e| LesionError::Model(format!("reading back feature maps failed: {e:?}")))?
            .try_into_vec::<f32>()
            .map_err(|e| LesionError::Model(format!("feature maps are not f32: {e:?}")))?;
        Ok(([channels, h, w], data))
    }
}
