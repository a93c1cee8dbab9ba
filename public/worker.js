// The evaluation worker: the same WebAssembly as the page. With no window here, lesion
// serves the page's requests (load, evaluate, charts) instead of drawing the page.
import init from "./lesion.js";

// When the WebAssembly cannot start, say so in the protocol's own words: the postcard
// bytes of `Envelope { generation: 0, reply: Reply::StartFailed(text) }` (see
// src/web/protocol): generation 0, variant 0, then the text's length as a varint and its
// UTF-8 bytes. tests/web_logic.rs checks these bytes against the Rust encoding.
export function startFailed(text) {
  const utf8 = new TextEncoder().encode(String(text));
  const header = [0, 0];
  let n = utf8.length;
  while (n >= 0x80) {
    header.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  header.push(n);
  const bytes = new Uint8Array(header.length + utf8.length);
  bytes.set(header);
  bytes.set(utf8, header.length);
  return bytes;
}

init({ module_or_path: new URL("./lesion_bg.wasm", import.meta.url) }).catch((error) => {
  self.postMessage(startFailed(error));
});
