// Tests of k3s's config as the lowest config layer (k3s-config): k3s's merge rules, what is
// taken and what ignored, our sources winning, missing files, errors, private secrets, the
// sources shown in status, and the reading of config.yaml and config.yaml.d.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "config/config_loader.h"
#include "config/config_schema.h"
#include "config/k3s_config.h"
#include "core/error.h"

using namespace snapd;

namespace {

const std::string kMain = "/etc/rancher/k3s/config.yaml";
const std::string kDropIns = "/etc/rancher/k3s/config.yaml.d/";

ConfigInputs WithK3s(std::vector<ConfigFile> k3s_files, std::vector<ConfigFile> files = {},
                     std::vector<std::string> flags = {}) {
  ConfigInputs inputs;
  inputs.k3s_files = std::move(k3s_files);
  inputs.files = std::move(files);
  inputs.flags = std::move(flags);
  inputs.hostname = "host-1";
  return inputs;
}

// The message BuildConfig throws for `inputs` (an InvalidInput), or "" if it does not throw.
std::string ErrorOf(const ConfigInputs& inputs) {
  try {
    BuildConfig(inputs);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kInvalidInput);
    return e.what();
  }
  return "";
}

std::string K3sError(const std::string& text) {
  return ErrorOf(WithK3s({{kMain, text}}));
}

ConfigSource::Kind KindOf(const Config& config, const std::string& key) {
  auto it = config.sources.find(key);
  REQUIRE(it != config.sources.end());
  return it->second.kind;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "k3s-config-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const std::filesystem::path path = path_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path.string();
  }
  std::string Path(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("k3s's config: the main file, then its drop-ins, a later scalar replacing",
          "[k3s-config]") {
  const Config config = BuildConfig(WithK3s({
      {kMain,
       "etcd-s3: true\netcd-s3-bucket: from-main\netcd-s3-folder: prod\n"
       "etcd-snapshot-retention: 3\ndata-dir: /srv/k3s\n"},
      {kDropIns + "10-s3.yaml", "etcd-s3-bucket: from-10\n"},
      {kDropIns + "20-retention.yml", "etcd-snapshot-retention: 4\netcd-s3-bucket: from-20\n"},
  }));
  CHECK(config.s3.enabled);
  CHECK(config.s3.bucket == "from-20");
  CHECK(config.s3.folder == "prod");
  CHECK(config.snapshot_retention == 4);
  CHECK(config.data_dir == "/srv/k3s");
  CHECK(config.snapshot_dir == "/srv/k3s/server/db/snapshots");  // derived as from our files
  CHECK(config.SourceOf("etcd-s3-bucket") == kDropIns + "20-retention.yml");
  CHECK(config.SourceOf("etcd-s3-folder") == kMain);
  CHECK(KindOf(config, "etcd-s3-bucket") == ConfigSource::Kind::kK3sConfig);
  CHECK(config.SourceOf("etcd-snapshot-dir") == "default");
}

TEST_CASE("k3s's config: key+ appends as k3s does; a single-value key takes the last item",
          "[k3s-config]") {
  // k3s turns a list into one flag per item, and its flag parser keeps the last of a repeated
  // single-value flag.
  Config config = BuildConfig(WithK3s({
      {kMain, "etcd-s3-folder: a\nnode-name+: n1\n"},
      {kDropIns + "10.yaml", "etcd-s3-folder+: b\n"},
      {kDropIns + "20.yaml", "etcd-s3-folder+: [c, d]\n"},
  }));
  CHECK(config.s3.folder == "d");
  CHECK(config.SourceOf("etcd-s3-folder") == kDropIns + "20.yaml");
  CHECK(config.node_name == "n1");  // "+" with nothing before it sets

  // Append keeps the earlier items, so an earlier bad one still fails; replacing drops it.
  CHECK(ErrorOf(WithK3s({{kMain, "etcd-snapshot-retention: five\n"},
                         {kDropIns + "10.yaml", "etcd-snapshot-retention+: 3\n"}})) ==
        kMain + ": etcd-snapshot-retention: expected an integer, got \"five\"");
  CHECK(BuildConfig(WithK3s({{kMain, "etcd-snapshot-retention: five\n"},
                             {kDropIns + "10.yaml", "etcd-snapshot-retention: 3\n"}}))
            .snapshot_retention == 3);
  // Appending nothing keeps the value; an empty list leaves the key unset.
  config = BuildConfig(WithK3s({{kMain, "etcd-s3-folder: a\netcd-s3-region: r\n"},
                                {kDropIns + "10.yaml", "etcd-s3-folder+:\netcd-s3-region: []\n"}}));
  CHECK(config.s3.folder == "a");
  CHECK(config.s3.region == "us-east-1");
  CHECK(config.SourceOf("etcd-s3-region") == "default");
}

TEST_CASE("MergeK3sConfig: k3s's lists, appends and key order", "[k3s-config]") {
  const std::vector<K3sConfigFlag> flags = MergeK3sConfig({
      {"/a.yaml", YAML::Load("tls-san: [x]\nnode-label: old\ncluster-init: true\n")},
      {"/b.yaml", YAML::Load("tls-san+: [y, z]\nnode-label: new\nnew-key: 1\n")},
      {"/c.yaml", YAML::Load("tls-san+: w\n")},
      {"/empty.yaml", YAML::Node()},
  });
  std::vector<std::string> seen;
  for (const K3sConfigFlag& flag : flags) {
    seen.push_back(flag.key + "=" + flag.value.Scalar() + " @" + flag.file);
  }
  CHECK(seen == std::vector<std::string>{"tls-san=x @/a.yaml", "tls-san=y @/b.yaml",
                                         "tls-san=z @/b.yaml", "tls-san=w @/c.yaml",
                                         "node-label=new @/b.yaml", "cluster-init=true @/a.yaml",
                                         "new-key=1 @/b.yaml"});
  // A later plain key replaces a whole list.
  const std::vector<K3sConfigFlag> replaced = MergeK3sConfig({
      {"/a.yaml", YAML::Load("tls-san: [x, y]\n")},
      {"/b.yaml", YAML::Load("tls-san: z\n")},
  });
  REQUIRE(replaced.size() == 1);
  CHECK(replaced[0].value.Scalar() == "z");
}

TEST_CASE("our drop-ins, flags, environment and credentials win over k3s's config",
          "[k3s-config]") {
  ConfigInputs inputs = WithK3s(
      {{kMain,
        "etcd-s3-bucket: k3s-bucket\netcd-s3-region: k3s-region\nnode-name: k3s-node\n"
        "etcd-s3-access-key: k3s-access\ntoken: k3s-token\netcd-snapshot-retention: 9\n"}},
      {{"/etc/k3s-snapd.d/10.yaml", "etcd-s3-bucket: our-bucket\n"}}, {"--node-name=flag-node"});
  inputs.env = {{"AWS_ACCESS_KEY_ID", "env-access"}};
  inputs.credentials = {{"token", "cred-token\n"}};
  Config config = BuildConfig(inputs);
  CHECK(config.s3.bucket == "our-bucket");
  CHECK(config.SourceOf("etcd-s3-bucket") == "/etc/k3s-snapd.d/10.yaml");
  CHECK(KindOf(config, "etcd-s3-bucket") == ConfigSource::Kind::kFile);
  CHECK(config.node_name == "flag-node");
  CHECK(config.s3.access_key == "env-access");
  CHECK(config.token == "cred-token");
  CHECK(config.s3.region == "k3s-region");
  CHECK(config.snapshot_retention == 9);

  // Our flag wins even where k3s's value could not be read: it is never looked at.
  inputs.k3s_files = {{kMain, "etcd-snapshot-retention: five\n"}};
  inputs.flags = {"--etcd-snapshot-retention=2"};
  CHECK(BuildConfig(inputs).snapshot_retention == 2);

  // Our *-file key replaces k3s's secret instead of conflicting with it, and our token-file
  // k3s's token.
  inputs = WithK3s({{kMain, "etcd-s3-secret-key: k3s-SECRET\ntoken: k3s-token\n"}}, {},
                   {"--etcd-s3-secret-key-file=/s/secret", "--token-file=/srv/token"});
  inputs.read_file = [](const std::string& path) { return ConfigFile{path, "file-secret\n"}; };
  config = BuildConfig(inputs);
  CHECK(config.s3.secret_key == "file-secret");
  CHECK(config.SourceOf("etcd-s3-secret-key") == "file /s/secret");
  CHECK(config.token.empty());
  CHECK(config.token_file == "/srv/token");
  // k3s's token-file is taken like its token.
  config = BuildConfig(WithK3s({{kMain, "token-file: /etc/rancher/k3s/token\n"}}));
  CHECK(config.token_file == "/etc/rancher/k3s/token");
  CHECK(config.SourceOf("token-file") == kMain);
}

TEST_CASE("k3s-config: none skips it; only an explicitly named file must exist", "[k3s-config]") {
  // The default file missing (no k3s files read): simply no k3s layer.
  Config config = BuildConfig(WithK3s({}));
  CHECK(config.k3s_config == kMain);
  CHECK(config.sources.empty());

  CHECK(BuildConfig(WithK3s({}, {}, {"--k3s-config=none"})).k3s_config == "none");
  CHECK(ErrorOf(WithK3s({}, {}, {"--k3s-config=/srv/k3s.yaml"})) ==
        "--k3s-config: /srv/k3s.yaml does not exist, nor does any *.yaml in /srv/k3s.yaml.d/");
  CHECK(ErrorOf(WithK3s({}, {{"/c/10.yaml", "k3s-config: /srv/k3s.yaml\n"}})) ==
        "/c/10.yaml: k3s-config: /srv/k3s.yaml does not exist, nor does any *.yaml in "
        "/srv/k3s.yaml.d/");
  // As in k3s, drop-ins alone will do.
  config = BuildConfig(WithK3s({{"/srv/k3s.yaml.d/10.yaml", "node-name: only-drop-in\n"}}, {},
                               {"--k3s-config", "/srv/k3s.yaml"}));
  CHECK(config.node_name == "only-drop-in");
  CHECK(ErrorOf(WithK3s({}, {}, {"--k3s-config=k3s.yaml"})) ==
        "--k3s-config: must be an absolute path or none, got \"k3s.yaml\"");

  // k3s's file cannot name another k3s file.
  config = BuildConfig(WithK3s({{kMain, "k3s-config: /elsewhere.yaml\n"}}));
  CHECK(config.k3s_config == kMain);

  // Files read for another path than k3s-config names are a caller's mistake, not ignored.
  CHECK_THROWS_WITH(
      BuildConfig(WithK3s({{"/other.yaml", "node-name: x\n"}})),
      Catch::Contains("/other.yaml: given as k3s's config, but k3s-config is " + kMain));
  CHECK_THROWS_AS(BuildConfig(WithK3s({{kMain, ""}}, {}, {"--k3s-config=none"})), Error);

  // K3sConfigPath: what LoadConfig reads before BuildConfig.
  CHECK(K3sConfigPath(WithK3s({})) == kMain);
  CHECK(K3sConfigPath(WithK3s({}, {{"/c/10.yaml", "k3s-config: /a.yaml\n"}})) == "/a.yaml");
  CHECK(K3sConfigPath(WithK3s({}, {{"/c/10.yaml", "k3s-config: /a.yaml\n"}},
                              {"--k3s-config=none"})) == "none");
  CHECK_THROWS_WITH(K3sConfigPath(WithK3s({}, {}, {"--k3s-config="})),
                    "--k3s-config: must be an absolute path or none, got \"\"");
}

TEST_CASE("a bad value taken from k3s's config names the k3s file and key", "[k3s-config]") {
  CHECK(ErrorOf(WithK3s({{kMain, "etcd-snapshot-retention: 3\n"},
                         {kDropIns + "10-x.yaml", "etcd-snapshot-retention: five\n"}})) ==
        kDropIns + "10-x.yaml: etcd-snapshot-retention: expected an integer, got \"five\"");
  CHECK(K3sError("etcd-snapshot-dir: snapshots\n") ==
        kMain + ": etcd-snapshot-dir: must be an absolute path, got \"snapshots\"");
  CHECK(K3sError("etcd-s3-bucket: {a: 1}\n") ==
        kMain + ": etcd-s3-bucket: expected a string, got a mapping");
  CHECK(K3sError("etcd-s3-timeout: [1m, [2m]]\n") ==
        kMain + ": etcd-s3-timeout: expected a duration such as 30s, 5m or 1h30m, got a list");
  CHECK(K3sError("etcd-s3: maybe\n") == kMain + ": etcd-s3: expected true or false, got \"maybe\"");
  CHECK(K3sError("etcd-s3:\n") == kMain + ": etcd-s3: expected true or false, got \"\"");
  CHECK(K3sError("etcd-s3: true\n") == kMain + ": etcd-s3 is true but etcd-s3-bucket is not set");
  CHECK(K3sError("d: relative\n") == kMain +
                                         ": data-dir: must be an absolute path, got "
                                         "\"relative\"");
  // The file itself.
  CHECK(K3sError("- a\n") == kMain + ": expected \"key: value\" lines (a mapping), got a list");
  CHECK(K3sError("a: [\n").starts_with(kMain + ":"));
  CHECK(K3sError("a: 1\n---\nb: 2\n") == kMain + ": holds 2 YAML documents; expected one");
  // A secret's value is never shown.
  const std::string message = K3sError("token: [a-SECRET, {b: c}]\n");
  CHECK(message == kMain + ": token: expected a string, got a mapping");
}

TEST_CASE("k3s keys the daemon does not take are ignored, etcd-disable-snapshots among them",
          "[k3s-config]") {
  const Config config = BuildConfig(WithK3s({{kMain,
                                              "cluster-init: true\n"
                                              "tls-san: [a.example, b.example]\n"
                                              "node-label+: [x=y]\n"
                                              "write-kubeconfig-mode: \"0644\"\n"
                                              "etcd-disable-snapshots: true\n"
                                              "etcd-expose-metrics: maybe\n"
                                              "etcd-s3-config-secret: s3-config\n"
                                              "etcd-snapshot-reconcile-interval: 10m\n"
                                              "etcd_s3_bucket: underscored\n"
                                              "etcd-endpoint: https://10.0.0.1:2379\n"
                                              "log-level: debug\n"
                                              "control-socket: /tmp/x.sock\n"
                                              "{not: scalar}: x\n"}}));
  CHECK_FALSE(config.disable_snapshots);
  CHECK(config.s3.bucket.empty());
  CHECK(config.etcd_endpoint == "https://127.0.0.1:2379");  // a key of ours, but not k3s's
  CHECK(config.log_level == "info");
  CHECK(config.control_socket == "/run/k3s-snapd/snapd.sock");
  CHECK(config.sources.empty());
  CHECK(K3sError("etcd-disable-snapshots: maybe\n").empty());

  // What is taken: data-dir, node-name, token, token-file, datastore-endpoint and every
  // etcd-snapshot-* and etcd-s3-* key k3s has, under k3s's own names (and k3s's "d" and "t").
  const std::set<std::string_view> taken = {"data-dir",
                                            "node-name",
                                            "token",
                                            "token-file",
                                            "datastore-endpoint",
                                            "etcd-snapshot-dir",
                                            "etcd-snapshot-schedule-cron",
                                            "etcd-snapshot-retention",
                                            "etcd-snapshot-name",
                                            "etcd-snapshot-compress",
                                            "etcd-s3",
                                            "etcd-s3-endpoint",
                                            "etcd-s3-endpoint-ca",
                                            "etcd-s3-skip-ssl-verify",
                                            "etcd-s3-access-key",
                                            "etcd-s3-secret-key",
                                            "etcd-s3-session-token",
                                            "etcd-s3-bucket",
                                            "etcd-s3-bucket-lookup-type",
                                            "etcd-s3-region",
                                            "etcd-s3-folder",
                                            "etcd-s3-retention",
                                            "etcd-s3-proxy",
                                            "etcd-s3-insecure",
                                            "etcd-s3-timeout"};
  for (const ConfigKey& key : ConfigKeys()) {
    INFO(key.name);
    CHECK((FindK3sConfigKey(key.name) == &key) == taken.contains(key.name));
  }
  CHECK(FindK3sConfigKey("d") == FindConfigKey("data-dir"));
  CHECK(FindK3sConfigKey("t") == FindConfigKey("token"));
  CHECK(FindK3sConfigKey("etcd-s3-access-key-file") == nullptr);  // ours, not k3s's
  const Config aliased = BuildConfig(WithK3s({{kMain, "d: /srv/k3s\nt: K10x::server:pw\n"}}));
  CHECK(aliased.data_dir == "/srv/k3s");
  CHECK(aliased.token == "K10x::server:pw");
}

TEST_CASE("an empty value in k3s's config means the default, as for k3s", "[k3s-config]") {
  const Config config = BuildConfig(WithK3s({
      {kMain, "node-name: main-node\ndata-dir: /srv/k3s\netcd-s3-folder: f\n"},
      {kDropIns + "10.yaml", "node-name: \"\"\ndata-dir:\netcd-s3-folder: ''\n"},
  }));
  CHECK(config.node_name == "host-1");
  CHECK(config.data_dir == "/var/lib/rancher/k3s");
  CHECK(config.s3.folder.empty());
  CHECK(config.sources.empty());
}

TEST_CASE("k3s's files holding a secret must be private; others may be 0644", "[k3s-config]") {
  auto error_for = [](const std::string& text, unsigned mode, unsigned owner = 0,
                      unsigned daemon_uid = 0) {
    ConfigInputs inputs = WithK3s({{kMain, text, mode, owner}});
    inputs.daemon_uid = daemon_uid;
    const std::string message = ErrorOf(inputs);
    CHECK(message.find("SECRET") == std::string::npos);
    return message;
  };
  // A normal k3s install: root's file, 0600, or 0644 without secrets.
  CHECK(error_for("token: K10x::server:SECRET\netcd-s3-secret-key: SECRET\n", 0600).empty());
  CHECK(error_for("etcd-s3-bucket: b\nnode-name: n\ncluster-init: true\n", 0644).empty());
  CHECK(error_for("token: \"\"\nagent-token: not-taken\n", 0644).empty());

  CHECK(error_for("token: K10x::server:SECRET\n", 0644) ==
        kMain + ": holds token but has mode 0644 (open to group or others); run chmod 600 " +
            kMain);
  CHECK(error_for("etcd-s3-secret-key+: [SECRET]\n", 0640) ==
        kMain +
            ": holds etcd-s3-secret-key but has mode 0640 (open to group or others); run chmod "
            "600 " +
            kMain);
  CHECK(error_for("t: SECRET\n", 0604).starts_with(kMain + ": holds token but has mode 0604"));
  CHECK(error_for("datastore-endpoint: postgres://u:SECRET@db/k3s\n", 0644)
            .starts_with(kMain + ": holds datastore-endpoint but has mode 0644"));
  CHECK(error_for("etcd-s3-access-key: SECRET\n", 0600, 1000) ==
        kMain + ": holds etcd-s3-access-key but is owned by uid 1000, not root; run chown root " +
            kMain);
  CHECK(error_for("etcd-s3-access-key: SECRET\n", 0600, 991, 991).empty());

  // Each file of k3s's config is checked, even one whose secret a later file replaces.
  ConfigInputs inputs = WithK3s(
      {{kMain, "token: SECRET-1\n", 0644}, {kDropIns + "10.yaml", "token: SECRET-2\n", 0600}});
  CHECK(ErrorOf(inputs).starts_with(kMain + ": holds token but has mode 0644"));
}

TEST_CASE("ConfigSourcesToJson names each value's source, never a value", "[k3s-config]") {
  ConfigInputs inputs = WithK3s({{kMain, "etcd-s3-secret-key: k3s-SECRET-1\netcd-s3-bucket: b\n"},
                                 {kDropIns + "10.yaml", "token: k3s-SECRET-2\n"}},
                                {{"/etc/k3s-snapd.d/10.yaml", "etcd-s3-folder: f\n"}},
                                {"--node-name=n", "--etcd-s3-access-key-file=/s/access"});
  inputs.env = {{"AWS_SESSION_TOKEN", "env-SECRET-3"}};
  inputs.read_file = [](const std::string& path) { return ConfigFile{path, "file-SECRET-4\n"}; };
  const Config config = BuildConfig(inputs);
  const nlohmann::json json = ConfigSourcesToJson(config);
  CHECK(json["etcd-s3-secret-key"] ==
        nlohmann::json{{"from", "k3s-config"}, {"file", "/etc/rancher/k3s/config.yaml"}});
  CHECK(json["token"] == nlohmann::json{{"from", "k3s-config"}, {"file", kDropIns + "10.yaml"}});
  CHECK(json["etcd-s3-folder"] ==
        nlohmann::json{{"from", "drop-in"}, {"file", "/etc/k3s-snapd.d/10.yaml"}});
  CHECK(json["node-name"] == nlohmann::json{{"from", "flag"}, {"flag", "--node-name"}});
  CHECK(json["etcd-s3-session-token"] ==
        nlohmann::json{{"from", "env"}, {"variable", "AWS_SESSION_TOKEN"}});
  CHECK(json["etcd-s3-access-key"] ==
        nlohmann::json{{"from", "secret-file"}, {"file", "/s/access"}});
  CHECK(json["etcd-s3-region"] == nlohmann::json{{"from", "default"}});
  CHECK(json["k3s-config"] == nlohmann::json{{"from", "default"}});
  CHECK(json.size() == ConfigKeys().size());
  const std::string text = json.dump() + ConfigToJson(config).dump();
  CHECK(text.find("SECRET") == std::string::npos);
  CHECK(ConfigToJson(config)["token"] == "(set)");

  ConfigInputs with_credential = WithK3s({});
  with_credential.credentials = {{"token", "cred-SECRET\n"}};
  CHECK(ConfigSourcesToJson(BuildConfig(with_credential))["token"] ==
        nlohmann::json{{"from", "credential"}, {"credential", "token"}});
}

TEST_CASE("ReadK3sConfig reads config.yaml, then config.yaml.d as k3s lists it", "[k3s-config]") {
  TempDir dir;
  const std::string main = dir.Write("k3s/config.yaml", "node-name: main\n", 0644);
  dir.Write("k3s/config.yaml.d/b.yaml", "node-name: b\n");
  dir.Write("k3s/config.yaml.d/a.yml", "node-name: a\n");
  dir.Write("k3s/config.yaml.d/10-first.YAML", "node-name: first\n");
  dir.Write("k3s/config.yaml.d/.hidden.yaml", "node-name: hidden\n");
  dir.Write("k3s/config.yaml.d/notes.txt", "x");
  dir.Write("k3s/config.yaml.d/sub.yaml/inner.yaml", "node-name: inner\n");
  std::vector<ConfigFile> files = ReadK3sConfig(main);
  std::vector<std::string> names;
  for (const ConfigFile& file : files) names.push_back(file.path.substr(dir.Path("k3s").size()));
  CHECK(names == std::vector<std::string>{"/config.yaml", "/config.yaml.d/.hidden.yaml",
                                          "/config.yaml.d/10-first.YAML", "/config.yaml.d/a.yml",
                                          "/config.yaml.d/b.yaml"});
  CHECK(files[0].mode == 0644);
  CHECK(files[0].owner_uid == ::geteuid());
  CHECK(files[1].text == "node-name: hidden\n");
  ConfigInputs inputs = WithK3s(files, {}, {"--k3s-config=" + main});
  inputs.daemon_uid = ::geteuid();
  CHECK(BuildConfig(inputs).node_name == "b");

  // No main file: the drop-ins alone; neither: nothing.
  std::filesystem::remove(main);
  CHECK(ReadK3sConfig(main).size() == 4);
  CHECK(ReadK3sConfig(dir.Path("nothing/config.yaml")).empty());
  // A config.yaml.d that is not a directory, or a main file that is not a file, is an error.
  dir.Write("odd/config.yaml.d", "");
  CHECK_THROWS_WITH(ReadK3sConfig(dir.Path("odd/config.yaml")),
                    Catch::Contains(dir.Path("odd/config.yaml.d") + ": not a directory"));
  std::filesystem::create_directories(dir.Path("dir/config.yaml"));
  CHECK_THROWS_WITH(ReadK3sConfig(dir.Path("dir/config.yaml")),
                    Catch::Contains(dir.Path("dir/config.yaml") + ": not a regular file"));
}

TEST_CASE("LoadConfig reads the k3s config k3s-config names", "[k3s-config]") {
  TempDir dir;
  const std::string main = dir.Write("k3s/config.yaml",
                                     "etcd-s3: true\netcd-s3-bucket: k3s-bucket\n"
                                     "etcd-s3-folder: main\nnode-name: k3s-node\n",
                                     0644);
  dir.Write("k3s/config.yaml.d/10-s3.yaml", "etcd-s3-folder: drop-in\n");
  dir.Write("conf/10.yaml", "node-name: our-node\n");
  const std::string conf = dir.Path("conf");

  Config config = LoadConfig({"--config-dir", conf, "--k3s-config", main});
  CHECK(config.s3.bucket == "k3s-bucket");
  CHECK(config.s3.folder == "drop-in");
  CHECK(config.SourceOf("etcd-s3-folder") == main + ".d/10-s3.yaml");
  CHECK(config.node_name == "our-node");

  // Named by our drop-in instead of a flag; "none" on the command line turns it off.
  dir.Write("conf/05-k3s.yaml", "k3s-config: " + main + "\n");
  CHECK(LoadConfig({"--config-dir", conf}).s3.bucket == "k3s-bucket");
  CHECK(LoadConfig({"--config-dir", conf, "--k3s-config=none"}).s3.bucket.empty());

  CHECK_THROWS_WITH(LoadConfig({"--config-dir", conf, "--k3s-config", dir.Path("no.yaml")}),
                    "--k3s-config: " + dir.Path("no.yaml") + " does not exist, nor does any " +
                        "*.yaml in " + dir.Path("no.yaml") + ".d/");
}
