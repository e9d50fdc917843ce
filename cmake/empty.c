/* The shared library's own source: empty, its objects come from the static library
 * (cmake/package.cmake). */
typedef int clmtl_shared_library;
