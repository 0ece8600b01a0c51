# RingoInstall.cmake — `cmake --install`: the library, its headers, a CMake
# package (find_package(ringo) -> ringo::ringo) and a pkg-config file.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ringo EXPORT ringoTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/runtime/include/ringo"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(RINGO_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ringo)
install(EXPORT ringoTargets NAMESPACE ringo:: DESTINATION ${RINGO_CMAKE_DIR})
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/ringoConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/ringoConfig.cmake" INSTALL_DESTINATION ${RINGO_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/ringoConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/ringoConfig.cmake" "${PROJECT_BINARY_DIR}/ringoConfigVersion.cmake"
  DESTINATION ${RINGO_CMAKE_DIR})

configure_file("${PROJECT_SOURCE_DIR}/cmake/ringo.pc.in" "${PROJECT_BINARY_DIR}/ringo.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/ringo.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
