# smartcity_subsystem(NAME [SERIAL_INTEGRATION] DEPS dep...)
#   Builds the folder's *.cc (except tests) into library smartcity_<NAME>, and the folder's tests:
#   *_test.cc  -> one GoogleTest binary <NAME>_test, CTest label "unit" (fast, no external services);
#   *_itest.cc -> one GoogleTest binary <NAME>_itest, CTest label "integration" (may start real
#                 Kafka, PostgreSQL, S3 or a browser on loopback; slower). The integration label
#                 runs two at a time (scripts/test.sh); SERIAL_INTEGRATION runs this folder's
#                 alone (they start and kill multi-node clusters and time their failovers).
#   *_testutil.cc -> object library <NAME>_testutil, compiled once and linked into both test
#                 binaries (another folder's tests may link it too).
#   *_testmain.cc -> left out of the library: test helper programs the folder builds itself.
# Every test binary links smartcity_testing (src/testing: temp dirs, child processes, deadlines).
# New files are picked up without editing CMake (CONFIGURE_DEPENDS).
function(smartcity_subsystem NAME)
  cmake_parse_arguments(ARG "SERIAL_INTEGRATION" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  file(GLOB unit_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  file(GLOB integration_tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_itest.cc)
  file(GLOB test_support CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_testutil.cc)
  # *_testmain.cc: helper programs for tests, each with its own main(); the folder's CMakeLists.txt
  # builds them with add_executable.
  file(GLOB test_mains CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_testmain.cc)
  list(REMOVE_ITEM srcs ${unit_tests} ${integration_tests} ${test_support} ${test_mains} "")
  set(lib smartcity_${NAME})
  if(srcs)
    add_library(${lib} STATIC ${srcs})
    target_include_directories(${lib} PUBLIC ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${lib} PUBLIC ${ARG_DEPS})
  else()
    add_library(${lib} INTERFACE)
    target_include_directories(${lib} INTERFACE ${CMAKE_SOURCE_DIR}/src)
    target_link_libraries(${lib} INTERFACE ${ARG_DEPS})
  endif()
  set(test_libs ${lib} ${ARG_TEST_DEPS})
  if(NOT NAME STREQUAL "testing")
    list(APPEND test_libs smartcity_testing)
  endif()
  # The folder's test support is compiled once for both test binaries (and for other folders' tests
  # that link <NAME>_testutil).
  if(test_support AND (unit_tests OR integration_tests))
    add_library(${NAME}_testutil OBJECT ${test_support})
    target_link_libraries(${NAME}_testutil PUBLIC ${test_libs} GTest::gtest)
    target_compile_definitions(${NAME}_testutil PRIVATE
      SMARTCITY_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SMARTCITY_BINARY_DIR="${CMAKE_BINARY_DIR}")
    list(APPEND test_libs ${NAME}_testutil)
  endif()
  if(unit_tests)
    add_executable(${NAME}_test ${unit_tests})
    target_link_libraries(${NAME}_test PRIVATE ${test_libs} GTest::gtest GTest::gtest_main)
    target_compile_definitions(${NAME}_test PRIVATE
      SMARTCITY_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SMARTCITY_BINARY_DIR="${CMAKE_BINARY_DIR}")
    gtest_discover_tests(${NAME}_test PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
  endif()
  if(integration_tests)
    add_executable(${NAME}_itest ${integration_tests})
    target_link_libraries(${NAME}_itest PRIVATE ${test_libs} GTest::gtest GTest::gtest_main)
    target_compile_definitions(${NAME}_itest PRIVATE
      SMARTCITY_SOURCE_DIR="${CMAKE_SOURCE_DIR}" SMARTCITY_BINARY_DIR="${CMAKE_BINARY_DIR}")
    set(serial FALSE)
    if(ARG_SERIAL_INTEGRATION)
      set(serial TRUE)
    endif()
    gtest_discover_tests(${NAME}_itest PROPERTIES LABELS integration RUN_SERIAL ${serial}
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
