/* CLMTL_API marks every public function of clmtl. clmtl builds as a static library, where the
 * mark is empty; a shared build defines CLMTL_SHARED (and CLMTL_BUILDING while compiling the
 * library itself) to export the API from the library and import it in programs. */
#ifndef CLMTL_EXPORT_H
#define CLMTL_EXPORT_H

#if defined(CLMTL_SHARED)
#if defined(_WIN32)
#if defined(CLMTL_BUILDING)
#define CLMTL_API __declspec(dllexport)
#else
#define CLMTL_API __declspec(dllimport)
#endif
#else
#define CLMTL_API __attribute__((visibility("default")))
#endif
#else
#define CLMTL_API
#endif

#endif
