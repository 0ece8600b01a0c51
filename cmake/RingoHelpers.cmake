# RingoHelpers.cmake — one helper per kind of target.
#
#   ringo_add_library_sources(<dir> [PKG_CONFIG module...]
#                             [EXTRA_SOURCES glob...] [EXTRA_INCLUDE dir...])
#       adds a layer (netpoll/, http/) to the ringo library: <dir>/*.cc and
#       *.S, public headers in <dir>/include (installed, checked alone), the
#       layer's dependencies (found, linked, exported in the CMake package
#       and ringo.pc) and third-party sources compiled in. Call it from the
#       top-level CMakeLists.txt, after add_subdirectory(runtime).
#   ringo_add_library_variant(NAME n [DEFINITIONS def...])
#       the whole library again, with extra definitions (stress builds).
#   ringo_add_test(NAME n SOURCES ... [RESOURCE_LOCK lock...] [LIBRARY target]
#                  [TEST_PREFIX prefix.])
#   ringo_add_example(NAME n SOURCES ...)
#   ringo_check_headers(<target> <include dir>)
#   ringo_require_package(<pkg> [<debian package>])
include_guard(GLOBAL)

# Debian packages to name when a dependency is missing.
set(RINGO_DEBIAN_PACKAGE_GTest libgtest-dev)
set(RINGO_DEBIAN_PACKAGE_benchmark libbenchmark-dev)
set(RINGO_DEBIAN_PACKAGE_Threads libc6-dev)
set(RINGO_DEBIAN_PACKAGE_PkgConfig pkg-config)
set(RINGO_DEBIAN_PACKAGE_liburing liburing-dev)
set(RINGO_DEBIAN_PACKAGE_openssl libssl-dev)

function(_ringo_missing what deb)
  if(NOT deb)
    set(deb "${RINGO_DEBIAN_PACKAGE_${what}}")
  endif()
  if(NOT deb)
    set(deb "that provides it")
  endif()
  message(FATAL_ERROR "ringo: dependency ${what} not found; install the Debian "
    "package ${deb} (./test.sh and ./run.sh install every dependency; see scripts/deps.sh)")
endfunction()

# ringo_require_package(<pkg> [<debian package>]): find_package or a clear
# stop. A macro, so the package's variables reach the caller.
macro(ringo_require_package pkg)
  find_package(${pkg} QUIET)
  if(NOT ${pkg}_FOUND)
    _ringo_missing(${pkg} "${ARGN}")
  endif()
endmacro()

# Makes PkgConfig::ringo_<module> (global, so every directory sees it).
function(ringo_require_pkg_config module)
  string(MAKE_C_IDENTIFIER "ringo_${module}" prefix)
  if(TARGET PkgConfig::${prefix})
    return()
  endif()
  ringo_require_package(PkgConfig)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    _ringo_missing(${module} "")
  endif()
endfunction()

# Flags every ringo target gets: warnings, frame pointers, sanitizers.
function(ringo_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra $<$<BOOL:${RINGO_WERROR}>:-Werror>>
    -fno-omit-frame-pointer)
  if(RINGO_SANITIZE)
    get_target_property(type ${target} TYPE)
    if(RINGO_SANITIZE STREQUAL "thread" AND type STREQUAL "STATIC_LIBRARY")
      # As Go's runtime under -race: the scheduler's own code is not
      # instrumented; it declares what it synchronises (runtime/race.h).
      target_compile_definitions(${target} PRIVATE RINGO_TSAN=1)
    else()
      target_compile_options(${target} PRIVATE -fsanitize=${RINGO_SANITIZE} -fno-sanitize-recover=all)
    endif()
    # PUBLIC: whatever links a sanitized ringo (tests, an installed
    # package's consumer) needs the sanitizer runtime too.
    target_link_options(${target} PUBLIC -fsanitize=${RINGO_SANITIZE})
  endif()
endfunction()

function(ringo_add_library_sources dir)
  cmake_parse_arguments(L "" "" "PKG_CONFIG;EXTRA_SOURCES;EXTRA_INCLUDE" ${ARGN})
  set(root "${PROJECT_SOURCE_DIR}/${dir}")
  file(GLOB sources CONFIGURE_DEPENDS "${root}/*.cc" "${root}/*.S")
  target_sources(ringo PRIVATE ${sources})
  if(IS_DIRECTORY "${root}/include")
    target_include_directories(ringo PUBLIC $<BUILD_INTERFACE:${root}/include>)
    set_property(GLOBAL APPEND PROPERTY RINGO_PUBLIC_INCLUDE_DIRS "${root}/include")
    string(MAKE_C_IDENTIFIER "${dir}" id)
    ringo_check_headers(ringo_${id}_header_check "${root}/include")
  endif()
  # Third-party sources (llhttp's C files) are compiled in without our
  # warnings: -Werror must not depend on someone else's code.
  foreach(pattern IN LISTS L_EXTRA_SOURCES)
    file(GLOB extra CONFIGURE_DEPENDS "${pattern}")
    if(NOT extra)
      message(FATAL_ERROR "ringo: ${dir}: no file matches ${pattern}; install the Debian package "
        "that provides it (./test.sh and ./run.sh install every dependency; see scripts/deps.sh)")
    endif()
    target_sources(ringo PRIVATE ${extra})
    set_source_files_properties(${extra} TARGET_DIRECTORY ringo PROPERTIES COMPILE_OPTIONS -w)
  endforeach()
  target_include_directories(ringo PRIVATE ${L_EXTRA_INCLUDE})
  # A dependency is named by its pkg-config module, so the CMake package and
  # ringo.pc both carry it (Debian's liburing-dev and libssl-dev ship one).
  foreach(module IN LISTS L_PKG_CONFIG)
    ringo_require_pkg_config(${module})
    string(MAKE_C_IDENTIFIER "ringo_${module}" prefix)
    target_link_libraries(ringo PUBLIC PkgConfig::${prefix})
    set_property(GLOBAL APPEND PROPERTY RINGO_PKG_CONFIG_MODULES ${module})
  endforeach()
endfunction()

# Reads ringo's properties when called, so call it after every layer is added.
# ringo_tsan_instrument: in a TSan build, the library files listed in
# RINGO_TSAN_INSTRUMENTED are instrumented (in the calling directory's
# scope, where the library or its variant is defined); the others are the
# scheduler's, left alone (runtime/race.h).
function(ringo_tsan_instrument)
  if(RINGO_SANITIZE STREQUAL "thread")
    set_source_files_properties(${RINGO_TSAN_INSTRUMENTED} PROPERTIES COMPILE_OPTIONS "-fsanitize=thread")
  endif()
endfunction()

function(ringo_add_library_variant)
  cmake_parse_arguments(V "" "NAME" "DEFINITIONS" ${ARGN})
  get_target_property(sources ringo SOURCES)
  add_library(${V_NAME} STATIC ${sources})
  ringo_tsan_instrument()
  ringo_target_defaults(${V_NAME})
  foreach(prop IN ITEMS INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS
                        LINK_LIBRARIES INTERFACE_INCLUDE_DIRECTORIES
                        INTERFACE_COMPILE_DEFINITIONS INTERFACE_COMPILE_OPTIONS
                        INTERFACE_LINK_LIBRARIES INTERFACE_LINK_OPTIONS)
    get_target_property(value ringo ${prop})
    if(value)
      set_property(TARGET ${V_NAME} APPEND PROPERTY ${prop} ${value})
    endif()
  endforeach()
  target_compile_definitions(${V_NAME} PUBLIC ${V_DEFINITIONS})
  # Source properties belong to a directory; carry third-party sources' -w.
  foreach(src IN LISTS sources)
    get_source_file_property(opts "${src}" TARGET_DIRECTORY ringo COMPILE_OPTIONS)
    if(opts)
      set_source_files_properties("${src}" TARGET_DIRECTORY ${V_NAME} PROPERTIES COMPILE_OPTIONS "${opts}")
    endif()
  endforeach()
endfunction()

# ringo_add_test: one GoogleTest executable; every test in it runs in its own
# process under ctest. RESOURCE_LOCK serialises tests that need a fixed port
# or both CPUs.
function(ringo_add_test)
  cmake_parse_arguments(T "" "NAME;LIBRARY;TEST_PREFIX" "SOURCES;RESOURCE_LOCK" ${ARGN})
  if(NOT T_LIBRARY)
    set(T_LIBRARY ringo::ringo)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  ringo_target_defaults(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBRARY} GTest::gtest GTest::gtest_main)
  set(props ENVIRONMENT "RINGO_TEST_SCALE=${RINGO_TEST_SCALE}")
  list(LENGTH T_RESOURCE_LOCK n_locks)
  if(n_locks EQUAL 1)
    list(APPEND props RESOURCE_LOCK ${T_RESOURCE_LOCK})
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${T_TEST_PREFIX}" PROPERTIES ${props})
  if(n_locks GREATER 1)
    # gtest_discover_tests splits list values in PROPERTIES, so several locks
    # are set by a script that ctest reads after the discovered tests.
    set(script "${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_locks.cmake")
    file(WRITE "${script}" "if(${T_NAME}_TESTS)\n"
      "  set_tests_properties(\${${T_NAME}_TESTS} PROPERTIES RESOURCE_LOCK \"${T_RESOURCE_LOCK}\")\n"
      "endif()\n")
    set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
  endif()
endfunction()

function(ringo_add_example)
  cmake_parse_arguments(E "" "NAME" "SOURCES" ${ARGN})
  add_executable(${E_NAME} ${E_SOURCES})
  ringo_target_defaults(${E_NAME})
  target_link_libraries(${E_NAME} PRIVATE ringo::ringo)
  set_target_properties(${E_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/examples")
endfunction()

# ringo_check_headers: compiles each public header alone, so every header
# includes what it uses. Built with the normal build (not EXCLUDE_FROM_ALL).
function(ringo_check_headers target include_dir)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE "${include_dir}" "${include_dir}/*.h")
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${h}" id)
    set(src "${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cc")
    file(CONFIGURE OUTPUT "${src}" CONTENT "#include <${h}>\n")
    list(APPEND sources "${src}")
  endforeach()
  add_library(${target} OBJECT ${sources})
  ringo_target_defaults(${target})
  # ringo's include path, not a link to it: a layer's headers may include
  # the runtime's, and the check need not wait for the library to build.
  target_include_directories(${target} PRIVATE "${include_dir}"
    $<TARGET_PROPERTY:ringo,INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(${target} PRIVATE $<TARGET_PROPERTY:ringo,INTERFACE_COMPILE_DEFINITIONS>)
endfunction()
