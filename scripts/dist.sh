#!/usr/bin/env bash
# `make dist`: a self-contained shipit for Linux: Swift standard library and FoundationEssentials
# linked statically, libyaml too, stripped, with a sha256 file, completions and the man page, under
# dist/. The only shared libraries it needs are the system's (libc, libssh2, libsqlite3, libstdc++,
# libz, libcrypto through libssh2); nothing from the toolchain directory (scripts/test-install.sh
# checks that). A PostgreSQL ledger loads the system's libpq when it is configured.
#
# Size: shipit's code uses FoundationEssentials only, and no package it links needs Foundation, so
# the static link leaves out Foundation, CoreFoundation and ICU (about 14 MB with ICU's data).
# The check after the build fails if anything brings them back.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${DIST_SCRATCH:-.build-dist}
OUT=${DIST_DIR:-dist}

# libyaml is small and not on every machine: linked in from its static archive when there is one
# (a pkg-config file of our own names the archive; --as-needed then drops the shared one).
STATIC_YAML=
yaml_dir=$(pkg-config --variable=libdir yaml-0.1 2>/dev/null || true)
if [ -n "$yaml_dir" ] && [ -f "$yaml_dir/libyaml.a" ]; then
  mkdir -p "$SCRATCH/pkgconfig"
  printf 'Name: yaml\nDescription: libyaml, static\nVersion: %s\nLibs: -L%s -l:libyaml.a\nCflags:\n' \
    "$(pkg-config --modversion yaml-0.1)" "$yaml_dir" > "$SCRATCH/pkgconfig/yaml-0.1.pc"
  export PKG_CONFIG_PATH="$PWD/$SCRATCH/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  STATIC_YAML="-Xlinker --as-needed"
fi

# Resident memory: the functions a deploy runs, laid out together (scripts/dist/hot-order.sh
# profiles them; the list is committed). Without the list the binary is the same, only its code
# pages are more spread out.
ORDER=
if [ -f scripts/dist/hot-functions.txt.gz ]; then
  mkdir -p "$SCRATCH"
  zcat scripts/dist/hot-functions.txt.gz > "$SCRATCH/hot-functions.txt"
  ORDER="-Xlinker --symbol-ordering-file=$PWD/$SCRATCH/hot-functions.txt -Xlinker --no-warn-symbol-ordering"
fi

# Size: Swift keeps every public function of every package (an ELF "retain" flag) unless told
# that nothing outside this executable links against them (-internalize-at-link); with a section
# per function (Swift and C) the linker then drops what shipit never calls. -Osize for the rest.
# Linked anew every time: SwiftPM does not relink when only linker flags or the order list change.
rm -f "$SCRATCH/release/shipit"
swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product shipit \
  -Xswiftc -use-ld=lld -Xswiftc -Osize \
  -Xswiftc -Xfrontend -Xswiftc -internalize-at-link -Xswiftc -Xfrontend -Xswiftc -function-sections \
  -Xcc -ffunction-sections -Xcc -fdata-sections \
  -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs $STATIC_YAML $ORDER

bin=$SCRATCH/release/shipit
if nm "$bin" | grep -q -m1 -E ' \$s10Foundation|_FoundationInternationalization|icudt[0-9]+_dat'; then
  echo "dist: Foundation or ICU got linked again; find what references it with: -Xlinker --why-extract=FILE" >&2
  exit 1
fi
version=$("$bin" --version | awk '{print $2}')
name=shipit-$version-linux-$(uname -m)
rm -rf "$OUT" && mkdir -p "$OUT/completions" "$OUT/man"
strip -o "$OUT/$name" "$bin"
ln -s "$name" "$OUT/shipit"
"$OUT/shipit" --generate-completion-script bash > "$OUT/completions/shipit.bash"
"$OUT/shipit" --generate-completion-script zsh > "$OUT/completions/_shipit"
"$OUT/shipit" --generate-completion-script fish > "$OUT/completions/shipit.fish"
scripts/dist/manual.sh "$OUT/shipit" "$OUT/man"
(cd "$OUT" && sha256sum "$name" > "$name.sha256")
size=$(stat -c %s "$OUT/$name")
echo "dist: $OUT/$name ($((size / 1024 / 1024)) MiB), $OUT/$name.sha256, completions, man pages"
