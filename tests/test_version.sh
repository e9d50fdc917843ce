#!/bin/sh
# `clmtl --version` prints the version CMake's project(VERSION) gives (passed as $2) and the git
# commit the build was configured from ("unknown" outside a git checkout).
#   test_version.sh CLMTL_BINARY VERSION
set -u
clmtl="$1"
version="$2"
. "$(dirname "$0")/check.sh"
out=$("$clmtl" --version); rc=$?
check "clmtl --version exits 0" $rc
echo "$out"
echo "$out" | grep -qx "clmtl $version (commit [0-9A-Za-z._-]*)"
check "the version is CMake's $version, with a commit" $?
echo "$out" | grep -q "(commit )"; test $? -ne 0
check "the commit is not empty" $?
"$clmtl" help | grep -q "^clmtl $version:"
check "'clmtl help' names the same version" $?
finish
