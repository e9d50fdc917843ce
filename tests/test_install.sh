#!/bin/sh
# clmtl as an installed package (cmake/package.cmake): `cmake --install` into a temporary
# prefix puts the shared and static libraries, the public headers (version.h and export.h
# included), the CMake package and clmtl.pc, the model files and the program there; then
# examples/forward.c is configured and built against that installed copy alone, with
# find_package(clmtl) (shared, and clmtl::clmtl_static) and with pkg-config, and run on the
# installed models/tiny.cfg. The shared library exports the CLMTL_API functions and no internal
# one; cpack -G DEB makes a .deb holding library, headers, program and models.
#   test_install.sh BUILD_DIR SOURCE_DIR VERSION [sanitized]
# Skipped (77) in sanitizer builds: a program loading the sanitized library would need the
# sanitizer runtime first.
set -u
build="$1"
src="$2"
version="$3"
if [ "${4:-}" = sanitized ]; then echo "sanitizer build: skipped"; exit 77; fi
. "$(dirname "$0")/check.sh"
prefix="$dir/prefix"
cmake --install "$build" --prefix "$prefix" > "$dir/install.log" 2>&1
check "cmake --install into $prefix" $?
lib="$prefix/lib"
for f in lib/libclmtl.so lib/libclmtl.so.0 lib/libclmtl.a include/clmtl/clmtl.h include/clmtl/version.h \
         include/clmtl/export.h include/clmtl/graph.h lib/cmake/clmtl/clmtlConfig.cmake \
         lib/cmake/clmtl/clmtlConfigVersion.cmake lib/pkgconfig/clmtl.pc share/clmtl/models/tiny.cfg \
         share/clmtl/models/default.cfg bin/clmtl; do
  test -e "$prefix/$f"; check "installed $f" $?
done
grep -q "CLMTL_VERSION_STRING \"$version\"" "$prefix/include/clmtl/version.h"
check "installed version.h says $version" $?
# only the public API leaves the shared library
nm -D --defined-only "$lib/libclmtl.so" > "$dir/syms"
grep -q " T clm_graph_create$" "$dir/syms" && grep -q " T clm_last_error$" "$dir/syms"
check "libclmtl.so exports clm_graph_create and clm_last_error" $?
grep -q "clm_error_set\|clm_api_json_out\|stbi_" "$dir/syms"; test $? -ne 0
check "libclmtl.so exports no internal function (clm_error_set, clm_api_json_out, stb)" $?
"$prefix/bin/clmtl" --version | grep -q "^clmtl $version"
check "the installed program runs" $?

run_example() { # NAME BINARY
  "$2" "$prefix/share/clmtl/models/tiny.cfg" > "$dir/$1.out" 2>&1
  rc=$?
  cat "$dir/$1.out"
  test $rc -eq 0 && grep -q "^device " "$dir/$1.out" &&
    grep -q "^task.semantic: seg_head (1, 7, 32, 64) first " "$dir/$1.out" &&
    grep -q "^task.depth: depth_head (1, 1, 32, 64) first " "$dir/$1.out" &&
    grep -q "^clmtl $version on " "$dir/$1.out"
  check "$1: lists devices, compiles tiny.cfg, one forward" $?
}
# find_package(clmtl) from the installed prefix only (the source tree's include/ is not seen)
cp -r "$src/examples" "$dir/examples"
cmake -S "$dir/examples" -B "$dir/b-cmake" -DCMAKE_PREFIX_PATH="$prefix" > "$dir/cmake.log" 2>&1 &&
  cmake --build "$dir/b-cmake" > "$dir/cmake-build.log" 2>&1
rc=$?; cat "$dir/cmake.log" "$dir/cmake-build.log" | tail -5
check "examples/ configures and builds with find_package(clmtl)" $rc
ldd "$dir/b-cmake/forward" | grep -q "$lib/libclmtl.so"
check "the example links the installed libclmtl.so" $?
run_example find_package "$dir/b-cmake/forward"
# the static library, its dependencies found by the package's config
sed 's/clmtl::clmtl)/clmtl::clmtl_static)/' "$dir/examples/CMakeLists.txt" > "$dir/static.txt" &&
  mkdir "$dir/static" && cp "$dir/static.txt" "$dir/static/CMakeLists.txt" && cp "$dir/examples/forward.c" "$dir/static/"
cmake -S "$dir/static" -B "$dir/b-static" -DCMAKE_PREFIX_PATH="$prefix" > "$dir/static.log" 2>&1 &&
  cmake --build "$dir/b-static" >> "$dir/static.log" 2>&1
rc=$?; tail -5 "$dir/static.log"
check "examples/ builds with clmtl::clmtl_static" $rc
ldd "$dir/b-static/forward" | grep -q libclmtl; test $? -ne 0
check "the static build does not load libclmtl.so" $?
run_example static "$dir/b-static/forward"
# a version the package is not compatible with is refused
mkdir "$dir/v9" && sed 's/clmtl 0.1 REQUIRED/clmtl 9.0 REQUIRED/' "$dir/examples/CMakeLists.txt" > "$dir/v9/CMakeLists.txt" &&
  cp "$dir/examples/forward.c" "$dir/v9/"
cmake -S "$dir/v9" -B "$dir/b-v9" -DCMAKE_PREFIX_PATH="$prefix" > "$dir/v9.log" 2>&1; test $? -ne 0
check "find_package(clmtl 9.0) is refused by clmtlConfigVersion.cmake" $?

# pkg-config
export PKG_CONFIG_PATH="$lib/pkgconfig"
test "$(pkg-config --modversion clmtl)" = "$version"; check "pkg-config --modversion clmtl is $version" $?
cc -std=c11 -o "$dir/forward-pc" "$dir/examples/forward.c" $(pkg-config --cflags --libs clmtl) \
  -Wl,-rpath,"$(pkg-config --variable=libdir clmtl)"
check "forward.c builds with pkg-config --cflags --libs clmtl" $?
loaded=$(ldd "$dir/forward-pc" | sed -n 's/.*libclmtl.so.0 => \(.*\) (.*/\1/p')
test -n "$loaded" && test "$(realpath "$loaded")" = "$(realpath "$lib/libclmtl.so.0")"
check "... against the installed libclmtl.so ($loaded)" $?
run_example pkg-config "$dir/forward-pc"
test -f "$(pkg-config --variable=modelsdir clmtl)/tiny.cfg"; check "pkg-config's modelsdir holds tiny.cfg" $?

# the Debian package
if command -v cpack > /dev/null && command -v dpkg-deb > /dev/null; then
  (cd "$dir" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$dir/deb") > "$dir/cpack.log" 2>&1
  rc=$?; tail -3 "$dir/cpack.log"
  deb=$(ls "$dir"/deb/*.deb 2>/dev/null | head -1)
  test $rc -eq 0 && test -n "$deb"; check "cpack -G DEB makes a .deb" $?
  dpkg-deb -c "$deb" > "$dir/deb.list" 2>&1
  for f in ./usr/lib/libclmtl.so.$version ./usr/lib/libclmtl.a ./usr/include/clmtl/clmtl.h ./usr/include/clmtl/version.h \
           ./usr/bin/clmtl ./usr/share/clmtl/models/tiny.cfg ./usr/lib/cmake/clmtl/clmtlConfig.cmake ./usr/lib/pkgconfig/clmtl.pc; do
    grep -q " $f\$" "$dir/deb.list"; check ".deb holds $f" $?
  done
  dpkg-deb -f "$deb" Depends | grep -q libclblast; check ".deb depends on CLBlast's library" $?
fi
finish
