# Every first-party target gets these through vnet_target_defaults().
function(vnet_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wimplicit-fallthrough -Werror)
  target_compile_features(${target} PUBLIC cxx_std_20)
endfunction()

# vnet_add_gtest(NAME LABEL <unit|golden|integration> SOURCES ... LIBS ...)
# One gtest executable whose tests are registered with CTest under LABEL.
include(GoogleTest)
function(vnet_add_gtest name)
  cmake_parse_arguments(A "" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  vnet_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${A_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    VNET_SOURCE_DIR="${PROJECT_SOURCE_DIR}" VNET_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} PROPERTIES LABELS ${A_LABEL} DISCOVERY_TIMEOUT 60)
endfunction()

# vnet_add_fuzzer(NAME SOURCES ... LIBS ...): a libFuzzer target (fuzz preset only) plus a
# CTest "fuzz" smoke that runs it over its seed corpus and a few thousand mutations.
function(vnet_add_fuzzer name)
  cmake_parse_arguments(A "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT VNET_FUZZ)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_LIBS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(corpus ${CMAKE_CURRENT_SOURCE_DIR}/corpus/${name})
  # New inputs go to a scratch corpus in the build tree (the first directory); the seed
  # corpus in the source tree is only read.
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/corpus-${name})
  file(MAKE_DIRECTORY ${scratch})
  add_test(NAME fuzz.${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
      $<TARGET_FILE:${name}> -runs=20000 -max_len=4096 -timeout=10 ${scratch} ${corpus})
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endfunction()

# Adds every immediate subdirectory of the current source dir that has a CMakeLists.txt.
macro(vnet_add_subdirs)
  file(GLOB _children LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT _children)
  foreach(_c ${_children})
    if(IS_DIRECTORY ${_c} AND EXISTS ${_c}/CMakeLists.txt)
      add_subdirectory(${_c})
    endif()
  endforeach()
endmacro()
