#!/bin/sh
# The Debian package as a user gets it, as root on a fresh Debian machine: run by .ci/run after
# the test suite, not by ctest (it installs into the system and removes again). cpack builds
# the .deb from BUILD_DIR; its Depends must name the package of every shared library the
# program and libclmtl.so need (NEEDED entries, owners found with dpkg -S); `apt-get install
# ./clmtl_*.deb` pulls those in; then, from the installed files only (outside the source tree,
# no build directory on any path): clmtl devices, synth, model --steps, train on a shipped model
# found under /usr/share/clmtl/models, export --onnx, and the Python package imported from
# /usr/lib/python3/dist-packages loading /usr/lib/libclmtl.so.0; finally the package is
# removed and nothing of it is left. Exit 77 (skipped) when not root or without cpack/apt-get.
#   tests/test_deb.sh [BUILD_DIR]   (default: build)
set -u
build=$(cd "${1:-build}" && pwd) || exit 1
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: installs a package into the system: run as root"; exit 77; fi
for t in cpack dpkg-deb apt-get readelf; do
  command -v $t > /dev/null || { echo "SKIP: no $t here"; exit 77; }
done
if dpkg -s clmtl > /dev/null 2>&1; then
  echo "a clmtl package is installed already; remove it first (apt-get remove clmtl)"
  exit 1
fi
. "$(dirname "$0")/check.sh"
trap 'dpkg -s clmtl > /dev/null 2>&1 && apt-get remove -y -qq clmtl > /dev/null 2>&1; rm -rf "$dir"' EXIT

(cd "$dir" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$dir/deb") > "$dir/cpack.log" 2>&1
rc=$?
deb=$(ls "$dir"/deb/clmtl_*.deb 2>/dev/null | head -1)
test $rc -eq 0 && test -n "$deb"
check "cpack -G DEB makes clmtl_*.deb" $?
[ -n "$deb" ] || { tail -20 "$dir/cpack.log"; finish; exit 1; }
dpkg-deb -f "$deb"
depends=$(dpkg-deb -f "$deb" Depends)

# Depends against the shared libraries the binaries load
dpkg-deb -x "$deb" "$dir/x"
for bin in "$dir/x/usr/bin/clmtl" "$dir"/x/usr/lib/libclmtl.so.*.*.*; do
  for so in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case $so in libclmtl.so.*) continue ;; esac
    # the copy the loader picks (ldd), by its directory: */x86_64-linux-gnu/libm.so.6 is libc6's,
    # where */libm.so.6 alone also matches libc6-i386's lib32 copy
    path=$(ldd "$bin" | sed -n "s|.*$so => \(/[^ ]*\).*|\1|p; s|^[[:space:]]*\(/[^ ]*$so\) .*|\1|p" | head -1)
    pkg=$(dpkg -S "*/${path%/*}/$so" "*/$(basename "${path%/*}")/$so" 2>/dev/null | head -1 | cut -d: -f1)
    test -n "$pkg" && echo ", $depends" | grep -Eq "[,|] *$pkg( |,|\$)"
    check "Depends names ${pkg:-?} (owner of $so, needed by ${bin##*/})" $?
  done
done

(cd "$dir/deb" && apt-get install -y "./${deb##*/}") > "$dir/apt.log" 2>&1
rc=$?
test $rc -eq 0 && dpkg -s clmtl | grep -q "Status: install ok installed"
check "apt-get install ./${deb##*/} (its dependencies pulled in)" $?
[ $rc -eq 0 ] || tail -20 "$dir/apt.log"

# the installed files only: run from an empty directory, nothing of the tree or build on a path
mkdir "$dir/user" && cd "$dir/user" || exit 1
prog=/usr/bin/clmtl
ldd $prog /usr/lib/libclmtl.so.0 > ldd.log 2>&1
test $? -eq 0 && ! grep -q "not found" ldd.log
check "$prog (clmtl linked in) and /usr/lib/libclmtl.so.0 find every library they need" $?
$prog devices > devices.log 2>&1
rc=$?; head -3 devices.log
test $rc -eq 0 && test -s devices.log
check "clmtl devices" $?
$prog synth --out scenes --count 2 --size 16x32 > /dev/null 2>&1 && test -n "$(ls scenes/leftImg8bit/train/synth/*.png 2>/dev/null)"
check "clmtl synth" $?
$prog model /usr/share/clmtl/models/tiny.cfg --size 16x32 --steps 2 > model.log 2>&1
rc=$?; tail -2 model.log
test $rc -eq 0 && grep -q "step   2" model.log
check "clmtl model /usr/share/clmtl/models/tiny.cfg --steps 2" $?
$prog train --model models/tiny.cfg --size 16x32 --train-count 4 --val-count 2 --batch 2 --epochs 1 --out run \
  > train.log 2>&1 && grep -aq '"model.":."/usr/bin/../share/clmtl/models/tiny.cfg' run/best.safetensors
check "clmtl train --model models/tiny.cfg finds the installed /usr/share/clmtl/models/tiny.cfg" $?
$prog export --onnx run/tiny.onnx run/best.safetensors > /dev/null 2>&1 && test -s run/tiny.onnx
check "clmtl export --onnx" $?
if [ -f "$dir/x/usr/lib/python3/dist-packages/clmtl/__init__.py" ]; then
  env -u CLMTL_LIBRARY -u PYTHONPATH /usr/bin/python3 -c "
import clmtl, clmtl._lib as l
print(clmtl.__file__, clmtl._lib_handle()._clmtl_path, len(clmtl.devices()), 'devices')
assert clmtl.__file__.startswith('/usr/lib/python3/dist-packages/clmtl/')
assert clmtl._lib_handle()._clmtl_path.startswith('/usr/lib/libclmtl.so')"
  check "the .deb's Python package imports and loads the installed library" $?
fi
cd "$dir" || exit 1

apt-get remove -y clmtl > "$dir/remove.log" 2>&1
rc=$?
test $rc -eq 0 && ! dpkg -s clmtl > /dev/null 2>&1 && test ! -e /usr/bin/clmtl && test ! -e /usr/lib/libclmtl.so.0 &&
  test ! -e /usr/lib/python3/dist-packages/clmtl/__init__.py
check "apt-get remove clmtl leaves none of its files" $?
finish
