#!/usr/bin/env bash
# Installs every build and test dependency of attn by package name.
# Idempotent: packages already present are left alone, so a second run is a
# no-op apart from the dpkg query.
set -euo pipefail

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  cmake ninja-build g++ libgtest-dev python3
  clang libclang-rt-14-dev  # libFuzzer and the sanitizers (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# FileCheck, lit, not and count come with llvm-22-tools.
for tool in lit FileCheck not count mlir-tblgen; do
  if [[ ! -x /usr/lib/llvm-22/bin/$tool ]]; then
    echo "install-deps: /usr/lib/llvm-22/bin/$tool is missing after install" >&2
    exit 1
  fi
done
