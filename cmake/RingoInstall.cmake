# RingoInstall.cmake — `cmake --install`: the library, its public headers, a
# CMake package (find_package(ringo) -> ringo::ringo) and a pkg-config file.
# Layers added with ringo_add_library_sources are picked up from the global
# properties that helper sets.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ringo EXPORT ringoTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

get_property(include_dirs GLOBAL PROPERTY RINGO_PUBLIC_INCLUDE_DIRS)
foreach(dir IN ITEMS "${PROJECT_SOURCE_DIR}/runtime/include" ${include_dirs})
  install(DIRECTORY "${dir}/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")
endforeach()

# The package re-finds what the exported target links to.
set(RINGO_CONFIG_DEPENDENCIES "")
get_property(modules GLOBAL PROPERTY RINGO_PKG_CONFIG_MODULES)
if(modules)
  string(APPEND RINGO_CONFIG_DEPENDENCIES "find_dependency(PkgConfig)\n")
  foreach(module IN LISTS modules)
    string(MAKE_C_IDENTIFIER "ringo_${module}" prefix)
    string(APPEND RINGO_CONFIG_DEPENDENCIES
      "if(NOT TARGET PkgConfig::${prefix})\n"
      "  pkg_check_modules(${prefix} REQUIRED IMPORTED_TARGET ${module})\n"
      "endif()\n")
  endforeach()
endif()

set(RINGO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringo)
install(EXPORT ringoTargets NAMESPACE ringo:: DESTINATION ${RINGO_CMAKE_DIR})
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/ringoConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/ringoConfig.cmake" INSTALL_DESTINATION ${RINGO_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/ringoConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/ringoConfig.cmake" "${PROJECT_BINARY_DIR}/ringoConfigVersion.cmake"
  DESTINATION ${RINGO_CMAKE_DIR})

# ringo.pc finds its prefix from its own place, so `cmake --install --prefix`
# anywhere gives a working file.
set(RINGO_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${RINGO_PC_DIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(RINGO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(RINGO_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(RINGO_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH up "/${RINGO_PC_DIR}" "/")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(RINGO_PC_PREFIX "\${pcfiledir}/${up}")
  set(RINGO_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(RINGO_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Requires, not Requires.private: libringo.a is static, so a plain
# `pkg-config --libs ringo` must name every library it calls into.
set(RINGO_PC_REQUIRES "")
if(modules)
  list(JOIN modules ", " joined)
  set(RINGO_PC_REQUIRES "Requires: ${joined}")
endif()
# A sanitized ringo needs the sanitizer runtime in whatever links it.
set(RINGO_PC_SANITIZE "")
if(RINGO_SANITIZE)
  set(RINGO_PC_SANITIZE " -fsanitize=${RINGO_SANITIZE}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/ringo.pc.in" "${PROJECT_BINARY_DIR}/ringo.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/ringo.pc" DESTINATION ${RINGO_PC_DIR})
