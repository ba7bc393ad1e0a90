#!/usr/bin/env bash
# Install the system programs the course needs, when missing: Graphviz (`dot`), Chromium (browser test),
# bubblewrap (`bwrap`, the grader's sandbox) and a CJK font (the Chinese edition in Chromium).
# As root we install them with apt-get; otherwise we say exactly what to install.
set -euo pipefail
missing=()
command -v dot >/dev/null || missing+=(graphviz)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)  # the grader's sandbox (course/sandbox/run.py)
# Chinese glyphs for Chromium (the book's and the widgets' screenshots of the Chinese edition)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]} with apt-get ..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing system packages: ${missing[*]}."
  echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}"
  echo "  macOS: brew install graphviz (diagrams); the browser test also needs Chromium."
  echo "  conda: conda install -c conda-forge graphviz"
  [[ " ${missing[*]} " == *" graphviz "* ]] && exit 1
  exit 0
fi
