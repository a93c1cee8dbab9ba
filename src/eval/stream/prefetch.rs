//! Images decoded ahead of the model: a thread reads and preprocesses the next batch (on
//! every core, see [`ImageList::decode_batch`]) while the current one runs, at most
//! [`AHEAD`] batches ahead, so memory stays bounded however many images there are.

use std::ops::Range;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::Scope;

use crate::error::{LesionError, Result};
use crate::eval::listing::ImageList;

/// Decoded batches waiting besides the one being decoded.
const AHEAD: usize = 1;

/// The batches `ranges` of `images`, in order, decoded on a thread of `scope`.
pub struct Prefetch {
    rx: Receiver<Result<Vec<f32>>>,
}

impl Prefetch {
    pub fn start<'scope>(
        scope: &'scope Scope<'scope, '_>,
        images: &'scope ImageList,
        ranges: Vec<Range<usize>>,
    ) -> Self {
        let (tx, rx) = sync_channel(AHEAD);
        scope.spawn(move || {
            for range in ranges {
                // The receiver is gone when the evaluation stopped at an error.
                if tx.send(images.decode_batch(range)).is_err() {
                    break;
                }
            }
        });
        Self { rx }
    }

    /// The next batch's pixels.
    pub fn next(&self) -> Result<Vec<f32>> {
        self.rx
            .recv()
            .map_err(|_| LesionError::Model("the image decoder stopped".into()))?
    }
}
