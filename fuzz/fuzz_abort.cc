// The fuzzer executables' FuzzCheckFailed: print the broken property and
// abort, so that libFuzzer saves the input as a crash.
#include <cstdio>
#include <cstdlib>

#include "fuzz_target.h"

namespace poolscope::fuzz {

void FuzzCheckFailed(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: property broken: %s\n", file, line, what);
  std::abort();
}

}  // namespace poolscope::fuzz
