# RingoHelpers.cmake — one helper per kind of target.
#
#   ringo_add_library_sources(<dir>)   sources and public headers of one layer
#   ringo_add_test(NAME n SOURCES ... [RESOURCE_LOCK lock...] [LIBRARY target]
#                  [TEST_PREFIX prefix.])
#   ringo_add_example(NAME n SOURCES ...)
include_guard(GLOBAL)

# Flags every ringo target gets: warnings, frame pointers, sanitizers.
function(ringo_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX,C>:-Wall -Wextra>
    -fno-omit-frame-pointer)
  if(RINGO_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${RINGO_SANITIZE} -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${RINGO_SANITIZE})
  endif()
endfunction()

function(ringo_require_package pkg hint)
  find_package(${pkg} ${ARGN} QUIET)
  if(NOT ${pkg}_FOUND)
    message(FATAL_ERROR "ringo: ${pkg} not found; install the Debian package ${hint} (./test.sh does)")
  endif()
endfunction()

# ringo_add_test: one GoogleTest executable; every test in it runs in its own
# process under ctest. RESOURCE_LOCK serialises tests that need a fixed port
# or both CPUs.
function(ringo_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;RESOURCE_LOCK;LIBRARY;TEST_PREFIX" ${ARGN})
  if(NOT T_LIBRARY)
    set(T_LIBRARY ringo::ringo)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  ringo_target_defaults(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBRARY} GTest::gtest GTest::gtest_main)
  set(props ENVIRONMENT "RINGO_TEST_SCALE=${RINGO_TEST_SCALE}")
  if(T_RESOURCE_LOCK)
    list(APPEND props RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${T_TEST_PREFIX}" PROPERTIES ${props})
endfunction()

function(ringo_add_example)
  cmake_parse_arguments(E "" "NAME" "SOURCES" ${ARGN})
  add_executable(${E_NAME} ${E_SOURCES})
  ringo_target_defaults(${E_NAME})
  target_link_libraries(${E_NAME} PRIVATE ringo::ringo)
  set_target_properties(${E_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/examples")
endfunction()

# ringo_check_headers: compiles each public header alone, so every header
# includes what it uses.
function(ringo_check_headers target include_dir)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS RELATIVE "${include_dir}" "${include_dir}/ringo/*.h")
  set(sources)
  foreach(h IN LISTS headers)
    string(MAKE_C_IDENTIFIER "${h}" id)
    set(src "${CMAKE_CURRENT_BINARY_DIR}/header_check/${id}.cc")
    file(CONFIGURE OUTPUT "${src}" CONTENT "#include <${h}>\n")
    list(APPEND sources "${src}")
  endforeach()
  add_library(${target} OBJECT ${sources})
  ringo_target_defaults(${target})
  target_include_directories(${target} PRIVATE "${include_dir}")
endfunction()
