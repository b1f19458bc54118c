#!/bin/bash -eu
# Builds every cargo-fuzz target into $OUT with its seed corpus, dictionary and options, as
# ClusterFuzzLite and OSS-Fuzz expect (https://google.github.io/clusterfuzzlite/build-integration/rust-lang/).
cd "$SRC/raftwire"
cargo fuzz build -O --debug-assertions
built=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$built/$target" "$OUT/"
  cp fuzz/rfw.dict "$OUT/$target.dict"
  # Same limits as .ci/run: a length that drives an allocation before its bound is a crash.
  printf '[libfuzzer]\nrss_limit_mb = 512\nmalloc_limit_mb = 8\ndict = %s.dict\n' "$target" >"$OUT/$target.options"
  if [ -d "corpus/$target" ]; then
    (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
done
