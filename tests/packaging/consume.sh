#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Consume an installed libtinygrad the way an outside project does.
#   consume.sh MODE MESON BUILD_DIR SOURCE_DIR [SANITIZE]
# MODE:
#   layout     `meson install --destdir` puts headers, libtinygrad.so.0,
#              libtinygrad.a and tinygrad.pc in the standard places, and the
#              .pc carries the private dependencies
#   shared     C consumer linked against the shared library
#   static     C consumer linked fully static with `pkg-config --static`
#   cxx        C++17 consumer (g++ -Wall -Wextra -Werror) training a model
#   subproject the example in tests/packaging/subproject using this source
#              tree as a meson subproject
# Every mode but subproject installs the build into a fresh temporary
# DESTDIR and compiles with nothing but the pkg-config flags (through
# PKG_CONFIG_PATH and PKG_CONFIG_SYSROOT_DIR). Exit 77 = skipped.
set -eu
mode=$1 meson=$2 build=$(cd "$3" && pwd) src=$(cd "$4" && pwd) sanitize=${5:-none}
here=$src/tests/packaging
# meson test points LD_LIBRARY_PATH at the build tree; consumers must not see it.
unset LD_LIBRARY_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-consume.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

die() {
    echo "consume[$mode]: FAIL: $*" >&2
    exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || { echo "consume[$mode]: SKIP: no $1"; exit 77; }; }

if [ "$sanitize" != none ] && [ "$mode" != layout ]; then
    # Instrumented objects need the sanitizer runtime in every link line.
    echo "consume[$mode]: SKIP: sanitizer build ($sanitize)"
    exit 77
fi

if [ "$mode" = subproject ]; then
    need cc
    mkdir -p "$tmp/proj/subprojects"
    cp "$here/subproject/meson.build" "$here/subproject/main.c" "$tmp/proj/"
    # What a user gets from `git clone` (or a wrap file) of this project.
    mkdir "$tmp/proj/subprojects/tinygrad"
    (cd "$src" && cp -R meson.build meson_options.txt include lib pkgconfig \
        "$tmp/proj/subprojects/tinygrad/")
    "$meson" setup --force-fallback-for=tinygrad "$tmp/build" "$tmp/proj" >"$tmp/setup.log" 2>&1 ||
        { cat "$tmp/setup.log"; die "meson setup of the subproject example"; }
    "$meson" compile -C "$tmp/build" >"$tmp/compile.log" 2>&1 ||
        { cat "$tmp/compile.log"; die "meson compile of the subproject example"; }
    "$tmp/build/app" || die "subproject example exited $?"
    exit 0
fi

need pkg-config
root=$tmp/root
"$meson" install -C "$build" --destdir "$root" --no-rebuild >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; die "meson install --destdir"; }

pc=$(find "$root" -name tinygrad.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || die "tinygrad.pc was not installed"
pcdir=$(dirname "$pc")
# Paths as the .pc file states them (relative to /), before any sysroot.
pcvar() { PKG_CONFIG_SYSROOT_DIR='' PKG_CONFIG_PATH=$pcdir pkg-config --variable="$1" tinygrad; }
prefix=$(pcvar prefix)
includedir=$(pcvar includedir)
libdir=$(pcvar libdir)
version=$(PKG_CONFIG_PATH=$pcdir pkg-config --modversion tinygrad)
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$root
major=${version%%.*}

case $mode in
layout)
    [ "$pcdir" = "$root$libdir/pkgconfig" ] || die "tinygrad.pc in $pcdir, not in \$libdir/pkgconfig"
    [ "$includedir" = "$prefix/include" ] || die "includedir $includedir is not \$prefix/include"
    case $libdir in "$prefix"/lib | "$prefix"/lib64 | "$prefix"/lib/*-*) ;;
    *) die "libdir $libdir is not a standard library directory of $prefix" ;;
    esac
    for f in "$includedir/tinygrad.h" "$includedir/tinygrad_version.h" \
        "$libdir/libtinygrad.so.$major" "$libdir/libtinygrad.so" "$libdir/libtinygrad.a"; do
        [ -e "$root$f" ] || die "missing $f"
    done
    # Private headers stay private.
    if find "$root" -name 'tg_internal.h' | grep -q .; then die "lib/tg_internal.h was installed"; fi
    soname=$(readelf -d "$root$libdir/libtinygrad.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    [ "$soname" = "libtinygrad.so.$major" ] || die "SONAME is '$soname', expected libtinygrad.so.$major"
    grep -q "^#define TG_VERSION_STRING \"$version\"" "$root$includedir/tinygrad_version.h" ||
        die "tinygrad_version.h does not say $version"
    libs=$(pkg-config --libs tinygrad)
    slibs=" $(pkg-config --static --libs tinygrad) "
    echo "pkg-config --libs: $libs"
    echo "pkg-config --static --libs:$slibs"
    for want in -ltinygrad '-lpng[0-9]*' -lz -lm -pthread; do
        # shellcheck disable=SC2254
        case $slibs in *" "$want" "*) ;; *) die "--static --libs lacks $want" ;; esac
    done
    case " $libs " in *-lpng* | *" -lz "*) die "libpng/zlib leak into the public --libs" ;; esac
    grep -Eq '^Requires.private:.*libpng' "$pc" && grep -Eq '^Requires.private:.*zlib' "$pc" ||
        die "Requires.private must list libpng and zlib"
    ;;
shared)
    need cc
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror -DEXPECTED_VERSION="\"$version\"" \
        -o "$tmp/consumer" "$here/consumer.c" $(pkg-config --cflags --libs tinygrad) -lm ||
        die "compiling the shared consumer"
    export LD_LIBRARY_PATH=$root$libdir
    ldd "$tmp/consumer" | grep -q "libtinygrad.so.$major => $root$libdir/" ||
        die "consumer does not load the installed libtinygrad.so.$major: $(ldd "$tmp/consumer")"
    "$tmp/consumer" || die "shared consumer exited $?"
    ;;
static)
    need cc
    # shellcheck disable=SC2046
    cc -static -std=c11 -Wall -Wextra -Werror -DEXPECTED_VERSION="\"$version\"" \
        -o "$tmp/consumer" "$here/consumer.c" $(pkg-config --static --cflags --libs tinygrad) -lm ||
        die "linking the static consumer (are libpng.a, libz.a and libc.a installed?)"
    if readelf -d "$tmp/consumer" 2>/dev/null | grep -q NEEDED; then
        die "static consumer still needs shared libraries"
    fi
    "$tmp/consumer" || die "static consumer exited $?"
    ;;
cxx)
    need g++
    # shellcheck disable=SC2046
    g++ -std=c++17 -Wall -Wextra -Werror -o "$tmp/consumer++" "$here/consumer.cpp" \
        $(pkg-config --cflags --libs tinygrad) || die "compiling the C++ consumer"
    LD_LIBRARY_PATH=$root$libdir "$tmp/consumer++" || die "C++ consumer exited $?"
    ;;
*)
    die "unknown mode"
    ;;
esac
echo "consume[$mode]: OK"
