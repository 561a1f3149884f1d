#!/usr/bin/env bash
# Installs what Cascade needs to build and test, with apt-get, only if something is missing.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(g++ cmake ninja-build ccache libssl-dev nlohmann-json3-dev libcli11-dev libasio-dev
          googletest libgtest-dev python3 procps clang-format libcpp-httplib-dev pkg-config
          python3-prometheus-client chromium dpkg-dev groff-base)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
