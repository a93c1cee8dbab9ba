//! Which version of each layer the model holds: a changed layer's next version is written
//! into the buffer of the one it replaces, from the intact weights the session keeps
//! ([`Intact`](crate::eval::intact::Intact)) or, for a layer lent to the model, from the
//! model's own intact values.

use super::{LayerState, Session};
use crate::model::{HostTensor, Layer};

impl Session {
    /// Gives the model every layer from `first` on in its `wanted` version where it holds
    /// another (the user's settings changed, or a probe left its own), awaiting `between()`
    /// before each: newer settings need not wait for every changed layer's damage. `false`
    /// when `between()` said to stop. For the user's settings (`shown`), every layer they
    /// leave intact and the model holds intact is lent to the model again; a probe keeps the
    /// intact values of the layers it makes intact, which the user's settings damage (the
    /// next evaluation of them damages those layers again without taking them back).
    pub(super) async fn hold<F: Future<Output = bool>>(
        &mut self,
        wanted: &[LayerState; 8],
        first: usize,
        shown: bool,
        between: &mut impl FnMut() -> F,
    ) -> bool {
        for (k, &state) in wanted.iter().enumerate().skip(first) {
            if self.held[k] != state {
                if !between().await {
                    return false;
                }
                self.apply(k, state);
            }
        }
        if shown {
            for (k, layer) in Layer::ALL.into_iter().enumerate() {
                if wanted[k].is_none() && self.held[k].is_none() {
                    self.weights.lend_layer(layer);
                }
            }
        }
        true
    }

    /// Gives the model layer `k` in `state`, in the buffer of the version it replaces.
    fn apply(&mut self, k: usize, state: LayerState) {
        let layer = Layer::ALL[k];
        let taken = self.model.take_weight(layer, &self.device);
        let (weight, bias) = if self.weights.holds(layer) {
            self.layer_tensors_in(layer, state, taken)
        } else {
            // Lent: the model held the layer intact. Its values are kept from now on, and
            // the next version is made from the very buffer they came in.
            self.weights.take_back(layer, &taken);
            self.weights.from_lent(layer, taken, state)
        };
        self.model.set_layer(layer, weight, bias, &self.device);
        self.held[k] = state;
    }

    /// The weight and bias of `layer` in `state`: intact, or damaged, in a new buffer (the
    /// model's version of a lent layer is intact, and read from there).
    pub(super) fn layer_tensors(
        &self,
        layer: Layer,
        state: LayerState,
    ) -> (HostTensor, HostTensor) {
        if self.weights.holds(layer) {
            self.layer_tensors_in(layer, state, Vec::new())
        } else {
            let values = self.model.weight_values(layer);
            self.weights.from_lent(layer, values, state)
        }
    }

    /// [`Session::layer_tensors`] of a layer the session holds, the weight written into
    /// `reuse` when it has its length.
    fn layer_tensors_in(
        &self,
        layer: Layer,
        state: LayerState,
        reuse: Vec<f32>,
    ) -> (HostTensor, HostTensor) {
        match state {
            Some((damage, seed)) => self.weights.damaged_in(layer, damage, seed, reuse),
            None => self.weights.layer_in(layer, reuse),
        }
    }
}
