/* Included first by the translation units that compile stb_image's decoder (png_read.c for
 * PNG, src/infer/jpeg_read.c for JPEG): stb's own warnings are silenced there, to the end of
 * that unit, and nowhere else. No include guard: each such unit includes it once. */
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
