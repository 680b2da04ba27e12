// A private network namespace for the whole test process: made once, before the first
// test runs (never during --gtest_list_tests), gone when the process exits. Children
// started with popen() inherit it.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace vnet::nfttest {

// Empty when the process runs in its own network namespace, otherwise why not.
const std::string& netnsUnavailable();

// Runs `command` with /bin/sh in the test's namespace; returns its stdout. `status`, when
// given, receives the exit status.
std::string sh(const std::string& command, int* status = nullptr);

}  // namespace vnet::nfttest

// Skips the test when there is no private namespace; under CI=true that is a failure.
#define VNET_REQUIRE_NETNS()                                       \
  do {                                                             \
    const std::string& why_ = ::vnet::nfttest::netnsUnavailable(); \
    if (!why_.empty()) {                                           \
      const char* ci_ = std::getenv("CI");                         \
      if (ci_ && std::string(ci_) == "true") {                     \
        FAIL() << "CI=true: cannot run: " << why_;                 \
      }                                                            \
      GTEST_SKIP() << why_;                                        \
    }                                                              \
  } while (0)
