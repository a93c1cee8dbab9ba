// Starts lesion: loads the WebAssembly that Trunk built. A file rather than Trunk's inline
// loader, so the page's Content-Security-Policy allows no inline script at all.
import init from "./lesion.js";

init({ module_or_path: new URL("./lesion_bg.wasm", import.meta.url) }).catch((error) => {
  const box = document.getElementById("fatal");
  if (box) {
    box.textContent =
      "lesion could not start: " + error + " (it needs a browser with WebAssembly).";
    box.className = "fatal shown";
  }
});
