# SPDX-License-Identifier: MIT
# Sourced by the other scripts: install Debian packages only when some are
# missing, so that a rerun on a prepared machine skips apt entirely.
#   tg_require_packages PKG...
#   tg_require_command CMD PKG   (PKG only when the command CMD is missing)

tg_require_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "note: not a Debian system; make sure these are installed: ${missing[*]}" >&2
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "note: not root, skipping apt; missing packages: ${missing[*]}" >&2
        return 0
    fi
    echo "==> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A tool can come from elsewhere than Debian's package (npm from a Node.js
# distribution, for example): check for the command, and ask apt for the
# package only when the command is missing.
tg_require_command() {
    command -v "$1" >/dev/null 2>&1 && return 0
    tg_require_packages "$2"
}
