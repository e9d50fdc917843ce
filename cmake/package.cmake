# clmtl as a component of other software: the shared library (libclmtl.so, the same objects as
# the static libclmtl.a), install rules, an exported CMake package (find_package(clmtl) gives
# clmtl::clmtl, the shared library, and clmtl::clmtl_static), a relocatable clmtl.pc for
# pkg-config, and cpack's .deb. The implementation's dependencies (OpenCL, CLBlast, cJSON, stb)
# are private: no public header includes theirs, so a program using the shared library needs
# none of them to compile or link. Included from CMakeLists.txt after the clmtl targets.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(CLMTL_BUILD_SHARED "Build libclmtl.so besides libclmtl.a" ON)

set(CLMTL_PUBLIC_HEADERS_DIR ${PROJECT_SOURCE_DIR}/include/clmtl)
set(CLMTL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/clmtl)

if(CLMTL_BUILD_SHARED)
  # Every object of the static archive, exporting the CLMTL_API functions only.
  add_library(clmtl_shared SHARED ${PROJECT_SOURCE_DIR}/cmake/empty.c)
  set_target_properties(clmtl_shared PROPERTIES OUTPUT_NAME clmtl EXPORT_NAME clmtl
                        VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                        C_VISIBILITY_PRESET hidden)
  target_link_libraries(clmtl_shared PRIVATE -Wl,--whole-archive clmtl -Wl,--no-whole-archive)
  if(NOT (CLMTL_SANITIZE OR CLMTL_FUZZ))
    # every symbol resolved at link time (clang's sanitizer runtimes come with the program)
    target_link_options(clmtl_shared PRIVATE -Wl,--no-undefined)
  endif()
  # consumers get the headers and CLMTL_SHARED (CLMTL_API as the shared library's import)
  target_include_directories(clmtl_shared INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                             $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include> $<INSTALL_INTERFACE:include>)
  target_compile_definitions(clmtl_shared INTERFACE CLMTL_SHARED)
  add_library(clmtl::clmtl ALIAS clmtl_shared)
  install(TARGETS clmtl_shared EXPORT clmtlTargets
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  install(EXPORT clmtlTargets NAMESPACE clmtl:: DESTINATION ${CLMTL_CMAKE_DIR} COMPONENT dev)
endif()
set_target_properties(clmtl PROPERTIES EXPORT_NAME clmtl_static)
add_library(clmtl::clmtl_static ALIAS clmtl)
install(TARGETS clmtl EXPORT clmtlStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(EXPORT clmtlStaticTargets NAMESPACE clmtl:: DESTINATION ${CLMTL_CMAKE_DIR} COMPONENT dev)

# headers: the public ones and the generated version.h
file(GLOB CLMTL_PUBLIC_HEADERS ${CLMTL_PUBLIC_HEADERS_DIR}/*.h)
install(FILES ${CLMTL_PUBLIC_HEADERS} ${PROJECT_BINARY_DIR}/include/clmtl/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/clmtl COMPONENT dev)
# the shipped model files and the program
file(GLOB CLMTL_MODEL_FILES ${PROJECT_SOURCE_DIR}/models/*.cfg)
install(FILES ${CLMTL_MODEL_FILES} DESTINATION ${CMAKE_INSTALL_DATADIR}/clmtl/models COMPONENT runtime)
install(TARGETS clmtl_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# the Python package (ctypes over libclmtl.so.0, which it finds in the loader's paths) where
# Debian's python3 looks: /usr/lib/python3/dist-packages in the .deb
set(CLMTL_PYTHON_INSTALL_DIR lib/python3/dist-packages CACHE STRING
    "Where the Python package clmtl is installed, relative to the prefix")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/clmtl DESTINATION ${CLMTL_PYTHON_INSTALL_DIR}
        COMPONENT python FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)

# find_package(clmtl): config and version files
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/clmtlConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/clmtlConfig.cmake INSTALL_DESTINATION ${CLMTL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/clmtlConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/clmtlConfig.cmake ${PROJECT_BINARY_DIR}/clmtlConfigVersion.cmake
        DESTINATION ${CLMTL_CMAKE_DIR} COMPONENT dev)

# pkg-config: prefix relative to the .pc file, so that an install into any prefix works
file(RELATIVE_PATH CLMTL_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" CLMTL_PC_TO_PREFIX "${CLMTL_PC_TO_PREFIX}")
# with MPI (CLMTL_MPI), the static library also needs MPI's libraries
set(CLMTL_PC_MPI_LIBS "")
if(CLMTL_MPI)
  foreach(lib ${MPI_C_LIBRARIES})
    string(APPEND CLMTL_PC_MPI_LIBS " ${lib}")
  endforeach()
  string(STRIP "${CLMTL_PC_MPI_LIBS}" CLMTL_PC_MPI_LIBS)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/clmtl.pc.in ${PROJECT_BINARY_DIR}/clmtl.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/clmtl.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# cpack -G DEB: one package with the program, the library, headers, the CMake/pkg-config files
# and the Python package
set(CPACK_PACKAGE_NAME clmtl)
set(CPACK_PACKAGE_VENDOR "clmtl")
set(CPACK_PACKAGE_CONTACT "clmtl maintainers <clmtl@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Multi-task scene understanding (segmentation, instances, depth) on any OpenCL device")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# what dpkg-shlibdeps finds for libclmtl.so and the program on Debian 12 (tests/test_deb.sh
# compares the two when dpkg-shlibdeps is there)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libcjson1 (>= 1.7.13), libclblast1 (>= 1.5.1), ocl-icd-libopencl1 | libopencl1")
if(CLMTL_MPI) # a build with MPI links Open MPI's runtime (Debian 12: libopenmpi3)
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi3 (>= 4.1.4)")
endif()
# an OpenCL driver to run on; NumPy for the Python package
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pocl-opencl-icd | opencl-icd, python3-numpy")
include(CPack)
