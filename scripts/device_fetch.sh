#!/usr/bin/env bash
# Run HERE (a machine with the package registries) before training on a lent GPU machine:
# fetches what that machine's image lacks into .device/ (git-ignored), to be carried there.
# The image has Python 3.12 with CUDA torch, numpy, scipy, pillow, pyyaml, tqdm, safetensors,
# tokenizers and transformers (older); it has no mujoco and no EGL loader, and no network.
# docs/model.md "Training on a lent GPU" has the whole recipe.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device/whl .device/gl
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
  PLATFORMS+=(--platform "$p")
done
# mujoco renders the training scenes; transformers as pinned here (Mamba-2 path we test)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d .device/whl \
  mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 glfw==2.11.0 pyopengl==3.1.10 \
  websockets==15.0.1 "$(grep '^transformers==' requirements/base.txt)"
# EGL/OpenGL loaders for MuJoCo's offscreen rendering on the NVIDIA driver
if [ -z "$(ls .device/gl/*.deb 2>/dev/null)" ]; then
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update -qq
  (cd .device/gl && apt-get "${o[@]}" download libegl1 libglvnd0 libopengl0 libgl1 libglx0 \
    libgles2)
fi
du -sh .device
echo "carry .device in every device run (64 MiB limit): see docs/model.md"
