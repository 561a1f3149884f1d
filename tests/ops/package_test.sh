#!/usr/bin/env bash
# Install, checked: `cmake --install` into a scratch prefix, and CPack's .deb unpacked into a
# scratch root; the programs run from there (a tracker, a seed and a leecher on 127.0.0.1), the
# man pages render without warnings and document every option, and the systemd units pass
# `systemd-analyze verify` where it exists. Nothing is installed on the machine itself.
#   package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/cascade-package-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package_test: $*" >&2; exit 1; }

# 1. cmake --install into a prefix.
cmake --install "$build" --prefix "$work/prefix" >/dev/null
for f in bin/cascade-tracker bin/cascade-peer share/man/man1/cascade-tracker.1 share/man/man1/cascade-peer.1 \
         etc/cascade/tracker.json etc/cascade/seed.env lib/systemd/system/cascade-tracker.service \
         lib/systemd/system/cascade-seed.service lib/sysusers.d/cascade.conf lib/tmpfiles.d/cascade.conf; do
  [[ -e "$work/prefix/$f" ]] || fail "cmake --install did not install $f"
done
grep -q "^ExecStart=$work/prefix/bin/cascade-tracker --config $work/prefix/etc/cascade/tracker.json" \
  "$work/prefix/lib/systemd/system/cascade-tracker.service" || fail "the unit does not name the installed paths"

# 2. The .deb, unpacked into a scratch root.
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$work"/deb/cascade_*.deb)
info=$(dpkg-deb --info "$deb")
grep -q "Package: cascade" <<<"$info" || fail "no package name"
grep -q "Depends:.*libcpp-httplib" <<<"$info" || fail "Depends lacks cpp-httplib: $(grep Depends <<<"$info")"
grep -q "Depends:.*libssl" <<<"$info" || fail "Depends lacks OpenSSL"
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)  # (grep -q on a pipe would SIGPIPE tar)
grep -q conffiles <<<"$control" || fail "no conffiles: $control"
root="$work/root"
dpkg-deb -x "$deb" "$root"
for f in usr/bin/cascade-tracker usr/bin/cascade-peer etc/cascade/tracker.json etc/cascade/seed.env \
         usr/lib/systemd/system/cascade-tracker.service usr/lib/systemd/system/cascade-seed.service \
         usr/share/man/man1/cascade-peer.1; do
  [[ -e "$root/$f" ]] || fail "the .deb lacks /$f"
done
grep -q "^ExecStart=/usr/bin/cascade-tracker --config /etc/cascade/tracker.json" \
  "$root/usr/lib/systemd/system/cascade-tracker.service" || fail "the packaged unit does not name /usr/bin and /etc"
version=$("$root/usr/bin/cascade-peer" --version)
[[ "$version" == "cascade-peer $(sed -n 's/^project(cascade.*VERSION \([0-9.]*\)).*/\1/p' "$src/CMakeLists.txt")" ]] ||
  fail "--version says \"$version\""
[[ $("$root/usr/bin/cascade-tracker" --version) == "cascade-tracker "* ]] || fail "tracker --version"

# 3. The packaged programs work: the packaged config (on a free port), a seed and a leecher.
bin="$root/usr/bin"
head -c $((3 * 1024 * 1024 + 17)) /dev/urandom >"$work/data.bin"
"$bin/cascade-peer" make "$work/data.bin" --block-size 256KiB >/dev/null
"$bin/cascade-tracker" -c "$root/etc/cascade/tracker.json" --port 0 --bind 127.0.0.1 --port-file "$work/tracker.port" \
  >"$work/tracker.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/tracker.port" ]] && break; sleep 0.05; done
tracker="127.0.0.1:$(cat "$work/tracker.port")"
"$bin/cascade-peer" run "$work/data.bin.cascade" "$tracker" 127.0.0.1:0 --port-file "$work/seed.port" -q \
  >"$work/seed.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$work/seed.port" ]] && break; sleep 0.05; done
mkdir "$work/leech"
cp "$work/data.bin.cascade" "$work/leech/"
timeout 60 "$bin/cascade-peer" run "$work/leech/data.bin.cascade" "$tracker" 127.0.0.1:0 -c -q --list-interval 1 \
  >"$work/leech.log" 2>&1 || { cat "$work/leech.log" >&2; fail "the packaged leecher failed"; }
cmp "$work/data.bin" "$work/leech/data.bin" || fail "the leecher's copy differs"

# 4. Man pages: render without warnings, and name every option the programs' --help lists.
for page in cascade-tracker cascade-peer; do
  warnings=$(groff -man -Tutf8 -ww -z "$root/usr/share/man/man1/$page.1" 2>&1 || true)
  [[ -z "$warnings" ]] || fail "$page.1: $warnings"
done
check_options() {  # man page, help text
  local opt missing=()
  for opt in $(grep -oE '(^|[ ,])--[a-z][a-z-]+' <<<"$2" | tr -d ' ,' | sort -u); do
    [[ "$opt" == --help ]] && continue
    grep -qF -- "\\-\\-${opt#--}" "$1" || missing+=("$opt")  # troff writes --x as \-\-x
  done
  [[ ${#missing[@]} -eq 0 ]] || fail "$(basename "$1") does not document: ${missing[*]}"
}
check_options "$src/packaging/man/cascade-tracker.1" "$("$bin/cascade-tracker" --help)"
check_options "$src/packaging/man/cascade-peer.1" \
  "$("$bin/cascade-peer" run --help; "$bin/cascade-peer" make --help; "$bin/cascade-peer" info --help)"

# 5. The units, where systemd-analyze exists: those `cmake --install` wrote (the same text as the
# packaged ones, with the scratch prefix's paths, which exist here).
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify --man=no "$work/prefix/lib/systemd/system/cascade-tracker.service" \
        "$work/prefix/lib/systemd/system/cascade-seed.service" 2>&1) || fail "systemd-analyze verify: $out"
  if grep -E "cascade-(tracker|seed)\.service" <<<"$out"; then fail "systemd-analyze verify: $out"; fi
  echo "package_test: systemd-analyze verify: no complaints about the units"
else
  echo "package_test: systemd-analyze not found: units not verified"
fi
echo "package_test: cmake --install, the .deb ($(basename "$deb")), the packaged programs, man pages and units: ok"
