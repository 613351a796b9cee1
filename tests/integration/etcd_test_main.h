// The main() of the integration tests that share one etcd: skipped (exit 77) where etcd, or
// etcdctl when asked for, is not installed; otherwise one etcd for the whole Catch2 session.
#pragma once

#include <catch2/catch.hpp>

#include <cstdio>
#include <exception>

#include "etcd_server.h"

namespace snapd::test {

// Runs the session with `shared` pointing at the etcd while it runs; `suite` names the tests in
// an error starting it.
inline int RunWithEtcd(int argc, char* argv[], EtcdServer*& shared, bool needs_etcdctl,
                       const char* suite) {
  if (!OnPath("etcd") || (needs_etcdctl && !OnPath("etcdctl"))) {
    std::puts(needs_etcdctl
                  ? "SKIP: etcd or etcdctl is not installed (Debian packages etcd-server, "
                    "etcd-client)"
                  : "SKIP: etcd is not installed (Debian package etcd-server)");
    return 77;
  }
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  try {
    EtcdServer etcd;
    shared = &etcd;
    const int failed = session.run();
    shared = nullptr;
    return failed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", suite, e.what());
    return 1;
  }
}

}  // namespace snapd::test
