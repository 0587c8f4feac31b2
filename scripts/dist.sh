#!/usr/bin/env bash
# `make dist`: a self-contained shipit for Linux: Swift standard library and Foundation linked
# statically, stripped, with a sha256 file, completions and the man page, under dist/.
# The only shared libraries it needs are the system's (libc, libssh2, libsqlite3, libstdc++, libz,
# libcrypto through libssh2); nothing from the toolchain directory (tests/install.sh checks that).
#
# ICU: a plain static build is 83 MB stripped, 34 MB of it ICU's data for every locale and legacy
# charset, which Foundation links in whole. We link a trimmed copy instead (scripts/dist/icu-trim.py:
# root + English locale data, time zones, break rules, collation root; about 5 MB), drop the
# dynamic export of every symbol (a static executable loads no plugins) and pack the relative
# relocations (glibc >= 2.36 reads DT_RELR).
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH=${DIST_SCRATCH:-.build-dist}
OUT=${DIST_DIR:-dist}
WORK=$SCRATCH/icu
STATIC=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")/lib/swift_static/linux

mkdir -p "$WORK"
if [ ! -s "$WORK/icu-data.o" ]; then
  (cd "$WORK" && ar x "$STATIC/lib_FoundationICU.a" icu_packaged_data.cpp.o)
  objcopy -O binary -j .rodata "$WORK/icu_packaged_data.cpp.o" "$WORK/icudt-full.dat"
  python3 scripts/dist/icu-trim.py "$WORK/icudt-full.dat" "$WORK/icudt-small.dat" > "$WORK/icudt-items.txt"
  sym=$(nm "$WORK/icu_packaged_data.cpp.o" | awk '/ R icudt[0-9]+_dat$/ {print $3}')
  [ -n "$sym" ] || { echo "dist: no icudt*_dat in lib_FoundationICU.a" >&2; exit 1; }
  echo "$sym" > "$WORK/icu-symbol"
  cat > "$WORK/icu-data.S" <<ASM
    .section .rodata.shipit_icu,"a"
    .globl shipit_icu_data
    .type shipit_icu_data, @object
    .balign 16
shipit_icu_data:
    .incbin "$(readlink -f "$WORK/icudt-small.dat")"
    .size shipit_icu_data, . - shipit_icu_data
    .section .note.GNU-stack,"",@progbits
ASM
  clang -c "$WORK/icu-data.S" -o "$WORK/icu-data.o"
fi
icusym=$(cat "$WORK/icu-symbol")

# --defsym points ICU's data symbol at the trimmed copy before any archive is searched, so the
# full one is never extracted.
# Size: Swift keeps every public function of every package (an ELF "retain" flag) unless told
# that nothing outside this executable links against them (-internalize-at-link); with a section
# per function (Swift and C) the linker then drops what shipit never calls. -Osize for the rest.
swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --product shipit \
  -Xswiftc -use-ld=lld -Xswiftc -Osize \
  -Xswiftc -Xfrontend -Xswiftc -internalize-at-link -Xswiftc -Xfrontend -Xswiftc -function-sections \
  -Xcc -ffunction-sections -Xcc -fdata-sections \
  -Xlinker "$(readlink -f "$WORK/icu-data.o")" -Xlinker "--defsym=$icusym=shipit_icu_data" \
  -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs

bin=$SCRATCH/release/shipit
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
