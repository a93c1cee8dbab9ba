// Starts lesion. A file rather than Trunk's inline loader, so the page's
// Content-Security-Policy allows no inline script at all.
//
// The code's file names carry their content's hash, and build.json (written by
// site/post_build.sh) names them. It is fetched revalidated on every visit, so a page
// load after a redeploy starts the new code, and never mixes an old lesion.js with a new
// WebAssembly, however long the host lets browsers cache files.

function fatal(message) {
  const box = document.getElementById("fatal");
  if (box) {
    box.textContent = message;
    box.className = "fatal shown";
  }
}

async function start() {
  const response = await fetch(new URL("./build.json", import.meta.url), { cache: "no-cache" });
  if (!response.ok) {
    throw new Error("build.json: HTTP " + response.status);
  }
  const build = await response.json();
  for (const key of ["js", "wasm", "worker", "css"]) {
    if (typeof build[key] !== "string" || !/^[A-Za-z0-9_.-]+$/.test(build[key])) {
      throw new Error("build.json names no " + key + " file");
    }
  }
  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = new URL("./" + build.css, import.meta.url).href;
  document.head.appendChild(style);
  // Read by the page when it starts its worker (src/web/page/client.rs).
  globalThis.lesionBuild = build;
  const { default: init } = await import(new URL("./" + build.js, import.meta.url).href);
  await init({ module_or_path: new URL("./" + build.wasm, import.meta.url) });
}

start().catch((error) => {
  fatal("lesion could not start: " + error + " (it needs a browser with WebAssembly; reloading the page may help).");
});
