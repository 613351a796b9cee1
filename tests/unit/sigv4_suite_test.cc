// Runs the SigV4 signer against every case folder of the AWS reference suite found in
// $SIGV4_SUITE_DIR (default: the shared folder beside the checkout); exits 77 when it is absent.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/digest.h"
#include "s3/sigv4_signer.h"

namespace fs = std::filesystem;
using namespace snapd;

namespace {

constexpr int kSkipExitCode = 77;  // meson's "skipped"

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.filename().string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<std::string> ReadIfPresent(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  return ReadFile(path);
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A request.txt: request line, header lines (a line starting with a blank continues the
// previous header), an empty line and the body.
struct SuiteRequest {
  std::string method, raw_path, raw_query, version;
  std::vector<std::string> header_lines;  // as written, to rebuild the signed request
  NameValueList headers;
  std::string body;
};

SuiteRequest ParseRequest(std::string text) {
  std::erase(text, '\r');
  SuiteRequest request;
  std::string head = text;
  if (size_t blank = text.find("\n\n"); blank != std::string::npos) {
    head = text.substr(0, blank);
    request.body = text.substr(blank + 2);
  }
  std::vector<std::string> lines = SplitLines(head);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) throw std::runtime_error("request.txt is empty");

  // The target may hold spaces (get-space-*), so the version is after the last space.
  const std::string& line = lines[0];
  size_t first = line.find(' '), last = line.rfind(' ');
  if (first == std::string::npos || last == first) throw std::runtime_error("bad request line");
  request.method = line.substr(0, first);
  request.version = line.substr(last + 1);
  std::string target = line.substr(first + 1, last - first - 1);
  size_t question = target.find('?');
  request.raw_path = target.substr(0, question);
  if (question != std::string::npos) request.raw_query = target.substr(question + 1);

  for (size_t i = 1; i < lines.size(); ++i) {
    request.header_lines.push_back(lines[i]);
    if (lines[i].front() == ' ' || lines[i].front() == '\t') {
      if (request.headers.empty()) throw std::runtime_error("continuation without header");
      request.headers.back().second += " " + lines[i];
      continue;
    }
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) throw std::runtime_error("header line without ':'");
    request.headers.emplace_back(lines[i].substr(0, colon), lines[i].substr(colon + 1));
  }
  return request;
}

NameValueList ParseQuery(const std::string& raw) {
  NameValueList params;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('&', start);
    if (end == std::string::npos) end = raw.size();
    std::string piece = raw.substr(start, end - start);
    if (!piece.empty()) {
      size_t equals = piece.find('=');
      std::string name = piece.substr(0, equals);
      std::string value = equals == std::string::npos ? "" : piece.substr(equals + 1);
      params.emplace_back(UriDecode(name), UriDecode(value));
    }
    start = end + 1;
  }
  return params;
}

// "2015-08-30T12:36:00Z"
SystemTime ParseTimestamp(const std::string& text) {
  int y, mo, d, h, mi, s;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) != 6) {
    throw std::runtime_error("bad timestamp " + text);
  }
  using namespace std::chrono;
  return sys_days{year{y} / month(mo) / day(d)} + hours{h} + minutes{mi} + seconds{s};
}

std::string Abbreviate(const std::string& text) {
  return text.size() <= 100 ? text : text.substr(0, 100) + "...";
}

// Empty when equal, else where they first differ.
std::string FirstDifference(const std::string& what, const std::string& expected,
                            const std::string& actual) {
  if (expected == actual) return "";
  std::vector<std::string> want = SplitLines(expected), got = SplitLines(actual);
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    std::string w = i < want.size() ? want[i] : "<none>";
    std::string g = i < got.size() ? got[i] : "<none>";
    if (w != g) {
      return what + " line " + std::to_string(i + 1) + ": expected \"" + Abbreviate(w) +
             "\" got \"" + Abbreviate(g) + "\"";
    }
  }
  return what + ": differs in line endings";
}

std::string SignedRequestText(const SuiteRequest& request, const std::string& request_line,
                              const NameValueList& added_headers) {
  std::string text = request_line + "\n";
  for (const std::string& line : request.header_lines) text += line + "\n";
  for (const auto& [name, value] : added_headers) text += name + ":" + value + "\n";
  return text + "\n" + request.body;
}

// Empty when the case passes, else its first difference.
std::string RunCase(const fs::path& dir) {
  const SuiteRequest suite_request = ParseRequest(ReadFile(dir / "request.txt"));
  const nlohmann::json context = nlohmann::json::parse(ReadFile(dir / "context.json"));

  SigV4Credentials credentials;
  const auto& json_credentials = context.at("credentials");
  credentials.access_key_id = json_credentials.at("access_key_id").get<std::string>();
  credentials.secret_access_key = json_credentials.at("secret_access_key").get<std::string>();
  credentials.session_token = json_credentials.value("token", "");

  SigV4Options options;
  options.region = context.at("region").get<std::string>();
  options.service = context.at("service").get<std::string>();
  options.normalize_path = context.value("normalize", true);
  // The suite's README: S3 signs the path encoded once, every other service twice.
  options.double_encode_path = options.service != "s3";
  options.add_content_sha256_header = context.value("sign_body", false);
  options.omit_session_token = context.value("omit_session_token", false);
  const SystemTime now = ParseTimestamp(context.at("timestamp").get<std::string>());

  SigV4Request request;
  request.method = suite_request.method;
  request.path = suite_request.raw_path;
  request.query = ParseQuery(suite_request.raw_query);
  request.headers = suite_request.headers;
  request.payload_hash = Sha256::HexOf(suite_request.body);

  int checked = 0;
  for (const std::string mode : {"header", "query"}) {
    auto expected_canonical = ReadIfPresent(dir / (mode + "-canonical-request.txt"));
    auto expected_string_to_sign = ReadIfPresent(dir / (mode + "-string-to-sign.txt"));
    auto expected_signature = ReadIfPresent(dir / (mode + "-signature.txt"));
    auto expected_signed_request = ReadIfPresent(dir / (mode + "-signed-request.txt"));
    if (!expected_canonical && !expected_string_to_sign && !expected_signature &&
        !expected_signed_request) {
      continue;
    }
    ++checked;

    SigV4Result result;
    std::string request_line;
    if (mode == "header") {
      result = SignHeaders(request, credentials, options, now);
      request_line = suite_request.method + " " + suite_request.raw_path +
                     (suite_request.raw_query.empty() ? "" : "?" + suite_request.raw_query) + " " +
                     suite_request.version;
    } else {
      const auto expires = std::chrono::seconds(context.at("expiration_in_seconds").get<int>());
      result = PresignQuery(request, credentials, options, now, expires);
      std::string query = suite_request.raw_query;
      query += (query.empty() ? "" : "&") + EncodeQueryString(result.query_to_add);
      request_line = suite_request.method + " " + suite_request.raw_path + "?" + query + " " +
                     suite_request.version;
    }

    auto trimmed = [](std::string text) {
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
      return text;
    };
    std::string difference;
    if (expected_canonical) {
      difference = FirstDifference(mode + " canonical request", trimmed(*expected_canonical),
                                   result.canonical_request);
    }
    if (difference.empty() && expected_string_to_sign) {
      difference = FirstDifference(mode + " string to sign", trimmed(*expected_string_to_sign),
                                   result.string_to_sign);
    }
    if (difference.empty() && expected_signature) {
      difference =
          FirstDifference(mode + " signature", trimmed(*expected_signature), result.signature);
    }
    if (difference.empty() && expected_signed_request) {
      std::string expected = *expected_signed_request;
      std::erase(expected, '\r');
      difference =
          FirstDifference(mode + " signed request", expected,
                          SignedRequestText(suite_request, request_line, result.headers_to_add));
    }
    if (!difference.empty()) return difference;
  }
  if (checked == 0) return "no header-* or query-* expected files";
  return "";
}

}  // namespace

int main() {
  const char* from_env = std::getenv("SIGV4_SUITE_DIR");
  const fs::path suite_dir = from_env && *from_env
                                 ? fs::path(from_env)
                                 : fs::path(SNAPD_SOURCE_ROOT "/../shared/sigv4-test-suite");
  if (!fs::is_directory(suite_dir)) {
    std::printf("sigv4-suite: SKIP: %s not found\n", suite_dir.string().c_str());
    return kSkipExitCode;
  }

  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(suite_dir)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());

  int passed = 0, failed = 0;
  for (const fs::path& dir : cases) {
    std::string difference;
    try {
      difference = RunCase(dir);
    } catch (const std::exception& e) {
      difference = std::string("error: ") + e.what();
    }
    const std::string name = dir.filename().string();
    if (difference.empty()) {
      ++passed;
      std::printf("PASS %s\n", name.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s: %s\n", name.c_str(), difference.c_str());
    }
  }
  std::printf("sigv4-suite: %d passed, %d failed, %zu cases in %s\n", passed, failed, cases.size(),
              suite_dir.string().c_str());
  if (cases.empty()) {
    std::printf("sigv4-suite: no case folders found\n");
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
