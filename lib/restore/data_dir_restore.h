// The host-side steps of a restore, after the snapshot was fetched, decoded and verified into
// a staged file: move the old data aside (never delete it), put the snapshot's data in place,
// and undo the move when a step fails, so that a failed restore leaves the old data where it
// was. Every step is reported through `log` as it happens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "restore/process_runner.h"

namespace snapd {

using RestoreLog = std::function<void(const std::string& step)>;

// True when `data_dir` holds a k3s server (server/db/etcd, server/token or server/cred exists).
bool HoldsK3sServer(const std::string& data_dir);

struct K3sRestoreOptions {
  std::string data_dir;     // k3s data-dir, e.g. /var/lib/rancher/k3s
  std::string staged_path;  // the verified, decoded snapshot file
  std::string k3s_binary = "k3s";
  int64_t now_unix = 0;  // for etcd-old-<unix>
};

struct RestoreOutcome {
  std::string moved_aside;              // where the old data now is ("" when there was none)
  std::vector<std::string> next_steps;  // what the operator does next, one line each
};

// k3s mode: moves <data-dir>/server/db/etcd to etcd-old-<unix>, runs
// `<k3s> server --cluster-reset --cluster-reset-restore-path=<staged> --data-dir=<data-dir>`;
// when k3s fails, moves whatever it left to etcd-failed-<unix> and the old dir back, then
// throws Error::Permanent naming the exit status. Next steps follow the k3s docs for single-
// and multi-server clusters.
RestoreOutcome RestoreK3s(const K3sRestoreOptions& options, ProcessRunner& runner,
                          const RestoreLog& log);

struct EtcdRestoreOptions {
  std::string staged_path;
  std::string data_dir;                     // --etcd-data-dir: where etcd will run from
  std::string name;                         // --etcd-name
  std::string initial_cluster;              // --initial-cluster, e.g. "n1=http://10.0.0.1:2380"
  std::string initial_advertise_peer_urls;  // --initial-advertise-peer-urls
  std::string initial_cluster_token = "etcd-cluster";
  // etcdutl, or etcdctl (3.4 has `snapshot restore` there); "" picks etcdutl when it is in
  // PATH, else etcdctl.
  std::string restore_tool;
  int64_t now_unix = 0;
};

// `<tool> snapshot restore <staged> --data-dir <into_dir> --name ...` as `options` ask (the tool
// chosen as their restore_tool says), and the environment it needs. Also what the point-in-time
// replay restores its private etcd with.
struct SnapshotRestoreCommand {
  std::vector<std::string> argv;
  std::vector<std::string> environment;  // "NAME=value" to add to ours
};
SnapshotRestoreCommand MakeSnapshotRestoreCommand(const EtcdRestoreOptions& options,
                                                  const std::string& into_dir);

// etcd mode: `<tool> snapshot restore <staged> --data-dir <dir>.restoring-<unix> --name ...`,
// then moves an existing <dir> to <dir>-old-<unix> and the new one to <dir>. A failure before
// the final rename leaves <dir> untouched (the half-made new dir is removed). Throws
// Error::InvalidInput for missing options, Error::Permanent when the tool fails.
RestoreOutcome RestoreEtcdDataDir(const EtcdRestoreOptions& options, ProcessRunner& runner,
                                  const RestoreLog& log);

// Puts a saved server token in place: moves the current <token_file> to
// <token_file>-old-<unix> (if any) and writes `token` there with mode 0600, durably.
// Returns where the old token went ("" when there was none).
std::string RestoreTokenFile(const std::string& token_file, const std::string& token,
                             int64_t now_unix, const RestoreLog& log);

}  // namespace snapd
