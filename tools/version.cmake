# Writes include/clmtl/version.h from its template with the version (-DVERSION) and the
# source's `git describe --always --dirty` ("unknown" without git or outside a checkout).
# configure_file leaves the header untouched when nothing changed, so nothing rebuilds.
set(CLMTL_VERSION "${VERSION}")
set(CLMTL_COMMIT "unknown")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C "${SOURCE_DIR}" describe --always --dirty
                  OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0 AND NOT out STREQUAL "")
    set(CLMTL_COMMIT "${out}")
  endif()
endif()
configure_file("${SOURCE_DIR}/include/clmtl/version.h.in" "${OUT}" @ONLY)
