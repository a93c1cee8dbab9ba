// The evaluation worker: the same WebAssembly as the page. With no window here, lesion
// serves the page's requests (load, evaluate, charts) instead of drawing the page.
import init from "./lesion.js";

init({ module_or_path: new URL("./lesion_bg.wasm", import.meta.url) }).catch((error) => {
  // The page reads replies in this shape (see src/web/protocol.rs).
  self.postMessage({ Crashed: "the evaluation worker could not start: " + error });
});
