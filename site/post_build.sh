#!/bin/sh
# Trunk's post-build step, run in the staging folder ($TRUNK_STAGING_DIR) of every build.
#
# 1. Copies the installed weights (LESION_WEIGHTS_DIR, default `weights`) into the site.
# 2. Optimises the WebAssembly with wasm-opt at level LESION_WASM_OPT (default z, the
#    smallest download; ./dev serve and ./dev test pass 1: on two cores binaryen's JS
#    build took 480 s at -Oz and 136 s at -O1, for 16.4 MB against 20.5 MB).
# 3. Names the code and style by their content (`lesion-<sha256 prefix>.js`, ...) and writes
#    `build.json`, which names them. `boot.js` fetches build.json revalidated (`no-cache`)
#    on every visit and starts exactly the files it names, so one page load only ever sees
#    one deploy, whatever the host's caching: content-addressed files never change, and
#    the few fixed names (index.html, boot.js, build.json) hold no version of their own.
set -eu
weights=${LESION_WEIGHTS_DIR:-weights}
if [ ! -f "$weights/index.json" ]; then
  echo "no installed weights in $weights: run ./dev serve or cargo run --release -- weights install" >&2
  exit 1
fi
cp -r "$weights" "$TRUNK_STAGING_DIR/weights"
cd "$TRUNK_STAGING_DIR"
# Not the install's lock file, nor a temporary file a stopped install left.
find weights -name '.*' -type f -delete

hash() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1"; else shasum -a 256 "$1"; fi \
    | cut -c1-16
}
# name FILE STEM EXT: moves FILE to STEM-<hash>.EXT and prints the new name.
name() {
  new="$2-$(hash "$1").$3"
  mv "$1" "$new"
  echo "$new"
}

level=${LESION_WASM_OPT:-z}
case "$level" in 0 | 1 | 2 | 3 | 4 | s | z) ;; *) echo "LESION_WASM_OPT must be 0-4, s or z" >&2; exit 1 ;; esac
if [ "$level" != 0 ]; then
  wasm-opt "-O$level" lesion_bg.wasm -o lesion_bg.opt.wasm \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-simd
  mv lesion_bg.opt.wasm lesion_bg.wasm
fi
wasm=$(name lesion_bg.wasm lesion_bg wasm)
js=$(name lesion.js lesion js)
css=$(name style.css style css)
# The worker imports the code: point it at the named files, then name it too.
sed -e "s#\./lesion\.js#./$js#g" -e "s#\./lesion_bg\.wasm#./$wasm#g" worker.js > worker.tmp
rm worker.js
worker=$(name worker.tmp worker js)
printf '{"js":"%s","wasm":"%s","worker":"%s","css":"%s"}\n' "$js" "$wasm" "$worker" "$css" > build.json
