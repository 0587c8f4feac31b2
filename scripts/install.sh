#!/usr/bin/env bash
# `make install [PREFIX=/usr/local] [DESTDIR=]` and `make uninstall`: the self-contained binary from
# `make dist`, bash/zsh/fish completions and the man pages, into the usual places under PREFIX.
# What was installed is listed in PREFIX/share/shipit/install-manifest; uninstall removes exactly
# those files (and nothing it did not install).
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: install.sh install|uninstall PREFIX}
prefix=${2:?usage: install.sh install|uninstall PREFIX}
dist=${DIST_DIR:-dist}
manifest=$prefix/share/shipit/install-manifest

case "$action" in
install)
  [ -x "$dist/shipit" ] || { echo "install: no $dist/shipit; run make dist first" >&2; exit 1; }
  files=()
  put() { # put SRC DEST MODE
    install -D -m "$3" "$1" "$2"
    files+=("$2")
  }
  put "$(readlink -f "$dist/shipit")" "$prefix/bin/shipit" 755
  put "$dist/completions/shipit.bash" "$prefix/share/bash-completion/completions/shipit" 644
  put "$dist/completions/_shipit" "$prefix/share/zsh/site-functions/_shipit" 644
  put "$dist/completions/shipit.fish" "$prefix/share/fish/vendor_completions.d/shipit.fish" 644
  for page in "$dist"/man/*.1; do put "$page" "$prefix/share/man/man1/$(basename "$page")" 644; done
  mkdir -p "$(dirname "$manifest")"
  printf '%s\n' "${files[@]}" > "$manifest"
  echo "installed shipit $("$prefix/bin/shipit" --version | awk '{print $2}') into $prefix (${#files[@]} files, listed in $manifest)"
  case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: $prefix/bin is not on PATH" ;; esac
  ;;
uninstall)
  [ -f "$manifest" ] || { echo "uninstall: nothing installed in $prefix (no $manifest)" >&2; exit 1; }
  n=0
  while IFS= read -r f; do
    case "$f" in "$prefix"/*) ;; *) echo "uninstall: skipping $f (outside $prefix)" >&2; continue ;; esac
    rm -f "$f" && n=$((n + 1))
  done < "$manifest"
  rm -f "$manifest"
  rmdir "$prefix/share/shipit" 2>/dev/null || true
  echo "removed shipit from $prefix ($n files)"
  ;;
*) echo "usage: install.sh install|uninstall PREFIX" >&2; exit 2 ;;
esac
