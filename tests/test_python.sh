#!/bin/sh
# The Python package (python/clmtl over libclmtl.so) with pytest: tests/python/test_clmtl.py.
# Skipped (77) where no python3 has NumPy and pytest (apt-get install python3-numpy
# python3-pytest).  test_python.sh LIBCLMTL_SO CLMTL_PROGRAM SOURCE_DIR
set -u
py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import numpy, pytest" > /dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "no python3 with numpy and pytest: skipped (apt-get install python3-numpy python3-pytest)"
  exit 77
fi
export CLMTL_LIBRARY="$1" CLMTL_CLI="$2" CLMTL_SOURCE="$3"
export PYTHONPATH="$3/python${PYTHONPATH:+:$PYTHONPATH}"
cd "$(mktemp -d)" || exit 1
trap 'rm -rf "$PWD"' EXIT
exec "$py" -m pytest -q -p no:cacheprovider "$3/tests/python"
