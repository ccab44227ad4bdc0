#!/usr/bin/env bash
# Install what the benchmark media need (benchmarks/photos.py, edits.py). Idempotent: it only
# installs what is missing, so a second run changes nothing and needs no network.
#
#   bash benchmarks/setup.sh            # pip packages into the current python, Debian packages
#   PYTHON=.venv/bin/python bash benchmarks/setup.sh
#
# - pip (into $PYTHON, default: the `python` on PATH, else python3): scikit-image (bundled
#   photographs) and scikit-learn (china.jpg, flower.jpg).
# - apt (as root, or through sudo): the photographic wallpapers (lomiri, mate, plasma, lxqt),
#   palapeli's puzzle photographs, the sddm Maldives background, and the DejaVu fonts;
#   --no-install-recommends, so sddm itself and the KDE games are not pulled in.
set -euo pipefail

PYTHON="${PYTHON:-$(command -v python || command -v python3)}"

# import name -> pip package
declare -A PIP_PACKAGES=([skimage]=scikit-image [sklearn]=scikit-learn)
missing_pip=()
for module in "${!PIP_PACKAGES[@]}"; do
    if ! "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)"; then
        missing_pip+=("${PIP_PACKAGES[$module]}")
    fi
done
if ((${#missing_pip[@]})); then
    echo "pip install into $PYTHON: ${missing_pip[*]}"
    "$PYTHON" -m pip install "${missing_pip[@]}"
fi

APT_PACKAGES=(
    lomiri-wallpapers-16.04
    lomiri-wallpapers-20.04
    mate-backgrounds
    plasma-workspace-wallpapers
    lxqt-themes
    palapeli-data
    sddm-theme-maldives
    fonts-dejavu-core
)
missing_apt=()
for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing_apt+=("$package")
    fi
done
if ((${#missing_apt[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "apt-get install: ${missing_apt[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
        "${missing_apt[@]}"
fi

echo "benchmark media dependencies are installed"
