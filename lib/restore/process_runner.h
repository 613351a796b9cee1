// Runs an outside program (k3s, etcdutl) for a restore and waits for it: an interface, so
// tests can record the calls or make them fail.
#pragma once

#include <string>
#include <vector>

namespace snapd {

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Runs argv[0] (looked up in PATH when it has no '/') with argv, inheriting stdin, stdout and
  // stderr and our environment with `environment` ("NAME=value") added, replacing variables of
  // the same name; returns its exit status (128 + signal when killed). Throws Error::NotFound
  // when the program cannot be found or started. Our own environment is never changed: other
  // threads read it (curl's proxy settings), and setenv() racing with getenv() can crash.
  virtual int Run(const std::vector<std::string>& argv,
                  const std::vector<std::string>& environment) = 0;
  int Run(const std::vector<std::string>& argv) { return Run(argv, {}); }
};

// The real one: fork/exec (posix_spawnp) and waitpid.
class SystemProcessRunner final : public ProcessRunner {
 public:
  using ProcessRunner::Run;
  int Run(const std::vector<std::string>& argv,
          const std::vector<std::string>& environment) override;
};

}  // namespace snapd
