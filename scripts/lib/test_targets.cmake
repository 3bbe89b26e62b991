# Write the build targets the selected ctest tests need to OUT, one per line.
#
#   cmake -DBUILD=<build dir> -DOUT=<file> -DARGS="-L;unit|integration;-LE;^(bpf|e2e)$" \
#         -P scripts/lib/test_targets.cmake
#
# ARGS is a CMake list of ctest selection arguments; ctest picks the tests.
# Their commands are read from the CTestTestfile.cmake files CMake generated
# (they hold full paths even before anything is built). A test's targets are
# the basenames of the command words that are files below BUILD (in this
# project a program's name is its target's name). The caller drops names that
# are not targets (a script's argument that is not a program).
cmake_minimum_required(VERSION 3.25)
if(NOT BUILD OR NOT OUT)
  message(FATAL_ERROR "test_targets.cmake: set -DBUILD=<build dir> -DOUT=<file>")
endif()

# Stand-ins for the commands a CTestTestfile.cmake calls.
function(add_test name)
  set_property(GLOBAL PROPERTY "poolscope_cmd_${name}" "${ARGN}")
endfunction()
function(set_tests_properties)
endfunction()
macro(subdirs)
  foreach(_d ${ARGN})
    include("${CMAKE_CURRENT_LIST_DIR}/${_d}/CTestTestfile.cmake" OPTIONAL)
  endforeach()
endmacro()
include("${BUILD}/CTestTestfile.cmake")

execute_process(COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${BUILD} --show-only=json-v1 ${ARGS}
                OUTPUT_VARIABLE json RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "test_targets.cmake: ctest failed (${rc})")
endif()
set(targets "")
string(JSON n LENGTH "${json}" tests)
if(n GREATER 0)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" tests ${i} name)
    get_property(cmd GLOBAL PROPERTY "poolscope_cmd_${name}")
    foreach(word IN LISTS cmd)
      cmake_path(IS_PREFIX BUILD "${word}" NORMALIZE below)
      cmake_path(COMPARE "${word}" EQUAL "${BUILD}" is_build)
      if(below AND NOT is_build)
        cmake_path(GET word FILENAME exe)
        list(APPEND targets ${exe})
      endif()
    endforeach()
  endforeach()
endif()
list(REMOVE_DUPLICATES targets)
list(JOIN targets "\n" text)
file(WRITE ${OUT} "${text}\n")
