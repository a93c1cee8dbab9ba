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
    /// intact values the session holds of the layers it makes intact, which the user's
    /// settings damage (the next evaluation of them damages those layers again without
    /// taking them back).
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
        let (weight, bias) = self.weights.next_version(layer, taken, state);
        self.model.set_layer(layer, weight, bias, &self.device);
        self.held[k] = state;
    }

    /// The weight and bias of `layer` in `state`: intact, or damaged, in a new buffer (the
    /// intact values of a lent layer are made from the model's version).
    pub(super) fn layer_tensors(
        &self,
        layer: Layer,
        state: LayerState,
    ) -> (HostTensor, HostTensor) {
        if self.weights.holds(layer) {
            match state {
                Some((damage, seed)) => self.weights.damaged(layer, damage, seed),
                None => self.weights.layer(layer),
            }
        } else {
            let values = self.model.weight_values(layer);
            self.weights.from_lent(layer, values, state)
        }
    }
}
