// The check most tests share: a call must throw snapd::Error of a given kind whose message
// names what was wrong.
#pragma once

#include <catch2/catch.hpp>

#include <string>

#include "core/error.h"

namespace snapd {

// Runs `f`, which must throw snapd::Error of `kind` with `part` in its message.
template <typename F>
void RequireError(F&& f, ErrorKind kind, const std::string& part) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(ErrorKindName(e.kind()) == ErrorKindName(kind));
    CHECK_THAT(e.what(), Catch::Contains(part));
    return;
  }
  FAIL("expected a " << ErrorKindName(kind) << " error containing \"" << part << "\"");
}

}  // namespace snapd
