// Shared plumbing of the libFuzzer targets in fuzz/.
//
// Each target is a plain function `int Fuzz<Name>(const uint8_t*, size_t)`
// that feeds one input to a poolscope module and checks properties with
// FUZZ_CHECK. The same source files are compiled twice:
//   * with POOLSCOPE_FUZZ_MAIN (clang, -fsanitize=fuzzer): the file also
//     defines LLVMFuzzerTestOneInput, and a failed check aborts, which
//     libFuzzer reports as a crash and saves the input;
//   * into fuzz_replay_test (every build): the unit test replays the seed
//     corpus and every saved regression input through the same function, and
//     a failed check becomes a test failure.
//
// Thread-safety: targets are called from one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace poolscope::fuzz {

// FuzzCheckFailed reports a broken property: `what` names it. The fuzzer
// build prints it and aborts; the replay test throws FuzzCheckError.
[[noreturn]] void FuzzCheckFailed(const char* file, int line, const char* what);

// AsText views the fuzzer's input as bytes of text.
inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// OneLine says whether `s` holds no line break (a message fit for one log line).
inline bool OneLine(std::string_view s) {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace poolscope::fuzz

#define FUZZ_CHECK(cond, what)                                                 \
  do {                                                                         \
    if (!(cond)) ::poolscope::fuzz::FuzzCheckFailed(__FILE__, __LINE__, what); \
  } while (0)

// POOLSCOPE_FUZZ_ENTRY(fn) makes `fn` the libFuzzer entry point of this
// executable (only when building the fuzzer itself).
#ifdef POOLSCOPE_FUZZ_MAIN
#define POOLSCOPE_FUZZ_ENTRY(fn)                                                      \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) { \
    return fn(data, size);                                                            \
  }
#else
#define POOLSCOPE_FUZZ_ENTRY(fn)
#endif
