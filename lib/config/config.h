// The validated configuration of k3s-snapd: one value per key of config_schema.h, and where
// each value came from so that later checks (e.g. the cron schedule) can name the file or flag.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace snapd {

// Where one key's value came from.
struct ConfigSource {
  enum class Kind {
    kK3sConfig,   // k3s's config file or one of its config.yaml.d drop-ins; `name` is its path
    kFile,        // one of our drop-ins; `name` is its path
    kFlag,        // `name` is the flag, "--key"
    kEnv,         // `name` is the environment variable
    kCredential,  // `name` is the systemd credential
    kSecretFile,  // `name` is the file a *-file key named
  };
  Kind kind;
  std::string name;
};

struct S3Config {
  bool enabled = false;                       // etcd-s3
  std::string endpoint = "s3.amazonaws.com";  // etcd-s3-endpoint
  std::string endpoint_ca;                    // etcd-s3-endpoint-ca
  bool skip_ssl_verify = false;               // etcd-s3-skip-ssl-verify
  std::string access_key;                     // etcd-s3-access-key (env AWS_ACCESS_KEY_ID)
  std::string access_key_file;                // etcd-s3-access-key-file: read into access_key
  std::string secret_key;                   // etcd-s3-secret-key (env AWS_SECRET_ACCESS_KEY) SECRET
  std::string secret_key_file;              // etcd-s3-secret-key-file: read into secret_key
  std::string session_token;                // etcd-s3-session-token (env AWS_SESSION_TOKEN) SECRET
  std::string bucket;                       // etcd-s3-bucket
  std::string bucket_lookup_type = "auto";  // etcd-s3-bucket-lookup-type: auto|dns|path
  std::string region = "us-east-1";         // etcd-s3-region
  std::string folder;                       // etcd-s3-folder
  int retention = 5;                        // etcd-s3-retention
  std::string upload_by = "one-server";     // etcd-s3-upload-by: one-server|every-server
  std::string proxy;                  // etcd-s3-proxy ("" = from environment, "none" disables)
  bool insecure = false;              // etcd-s3-insecure (http instead of https)
  std::chrono::seconds timeout{300};  // etcd-s3-timeout (Go duration: 5m, 30s, 1h)
  int upload_concurrency = 4;         // etcd-s3-upload-concurrency: parts in flight
  // etcd-s3-incomplete-upload-grace: age at which an incomplete upload the daemon did not
  // journal (another process's, or one of ours whose journal entry was lost) is aborted
  std::chrono::seconds incomplete_upload_grace{600};
};

struct Config {
  std::string data_dir = "/var/lib/rancher/k3s";  // data-dir
  // etcd-snapshot-dir, default ${data-dir}/server/db/snapshots
  std::string snapshot_dir;
  std::string snapshot_schedule_cron = "0 */12 * * *";  // etcd-snapshot-schedule-cron
  int snapshot_retention = 5;                           // etcd-snapshot-retention
  std::string snapshot_name = "etcd-snapshot";          // etcd-snapshot-name
  bool disable_snapshots = false;                       // etcd-disable-snapshots
  bool snapshot_compress = false;                       // etcd-snapshot-compress (k3s: zip)
  bool snapshot_verify_contents = true;                 // etcd-snapshot-verify-contents
  // etcd-snapshot-incremental-interval: how often increments (etcd's changes since the last full
  // snapshot) are written; 0 = off.
  std::chrono::seconds snapshot_incremental_interval{0};
  // etcd-snapshot-keep-hourly, -daily, -weekly, -monthly: calendar retention of scheduled
  // snapshots in every store, beside the counts (0 = off)
  int snapshot_keep_hourly = 0;
  int snapshot_keep_daily = 0;
  int snapshot_keep_weekly = 0;
  int snapshot_keep_monthly = 0;
  // etcd-snapshot-compression: none|zip|zstd; "" = from etcd-snapshot-compress. Use
  // SnapshotCompression() for the one in effect.
  std::string snapshot_compression;
  // etcd-snapshot-encryption-recipients: age X25519 recipients ("age1..."), separated by
  // spaces or commas (a YAML list is joined so); "" = snapshots are not encrypted.
  std::string encryption_recipients;
  std::string encryption_identity_file;  // etcd-snapshot-encryption-identity-file
  // datastore-endpoint (k3s key) SECRET: "" = k3s's embedded datastore (SQLite or etcd, by
  // what is on disk), sqlite://PATH, or http(s):// for an external etcd.
  std::string datastore_endpoint;
  std::string etcd_endpoint = "https://127.0.0.1:2379";  // etcd-endpoint
  std::string etcd_transport = "auto";                   // etcd-transport: auto|grpc|gateway
  std::string etcd_cacert;  // etcd-cacert, default ${data-dir}/server/tls/etcd/server-ca.crt
  std::string etcd_cert;    // etcd-cert,   default ${data-dir}/server/tls/etcd/client.crt
  std::string etcd_key;     // etcd-key,    default ${data-dir}/server/tls/etcd/client.key
  // etcd-stall-timeout: a snapshot stream that moves less than a byte a second this long fails
  std::chrono::seconds etcd_stall_timeout{60};
  std::string node_name;   // node-name, default: host name
  std::string token;       // token (k3s key) SECRET
  std::string token_file;  // token-file, default ${data-dir}/server/token
  std::string control_socket = "/run/k3s-snapd/snapd.sock";  // control-socket
  std::string control_socket_group;  // control-socket-group: name or number, "" = daemon's group
  // control-socket-group-access: read|write, what members of that group may do
  std::string control_socket_group_access = "read";
  std::string metrics_address;     // metrics-address: "host:port" of /metrics, "" = off
  std::string log_level = "info";  // log-level: trace|debug|info|warn|error
  // state-dir (env STATE_DIRECTORY, set by systemd's StateDirectory=): the daemon's lock and
  // its journal of saves in progress
  std::string state_dir = "/var/lib/k3s-snapd";
  // k3s-config: k3s's config file, read with its config.yaml.d drop-ins as the lowest layer;
  // "none" skips it
  std::string k3s_config = "/etc/rancher/k3s/config.yaml";
  S3Config s3;
  // Where each key's value came from; a key no source set has no entry (its default).
  std::map<std::string, ConfigSource> sources;
  // As errors name it: "<file path>" (ours or k3s's), "--<flag>", "env AWS_...",
  // "credential <name>" (systemd), "file <path>" (a *-file key), or "default" when unset.
  std::string SourceOf(std::string_view key) const;
  // "none", "zip" or "zstd": etcd-snapshot-compression when set, else zip when
  // etcd-snapshot-compress is true (k3s's meaning of it).
  std::string SnapshotCompression() const;
  // The recipients of encryption_recipients, in order; empty when encryption is off.
  std::vector<std::string> EncryptionRecipients() const;
};

}  // namespace snapd
