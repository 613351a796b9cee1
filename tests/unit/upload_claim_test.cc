// Upload claims: keys per destination and fire time, values that round-trip, and what a server
// that lost the race does on each thing it may find under the key.
#include "coordination/upload_claim.h"

#include <catch2/catch.hpp>

using namespace snapd;

TEST_CASE("one claim key per S3 destination and fire time", "[coordination]") {
  const std::string a = S3DestinationId("s3.example.com", "backups", "k3s/prod");
  CHECK(a.size() == 16);
  CHECK(a == S3DestinationId("s3.example.com", "backups", "k3s/prod"));
  CHECK(a != S3DestinationId("s3.example.com", "backups", "k3s/test"));
  CHECK(a != S3DestinationId("s3.example.com", "backups2", "k3s/prod"));
  CHECK(a != S3DestinationId("minio:9000", "backups", "k3s/prod"));
  // The parts cannot run into each other.
  CHECK(S3DestinationId("ab", "c", "") != S3DestinationId("a", "bc", ""));
  CHECK(UploadClaimKey(a, 1700000000) == "/k3s-snapd/upload-claims/" + a + "/1700000000");
}

TEST_CASE("claim values round-trip and anything else is not a claim", "[coordination]") {
  UploadClaim claim{"server-2", "etcd-snapshot-server-2-1700000003", UploadClaim::State::kReady};
  std::optional<UploadClaim> parsed = ParseUploadClaim(FormatUploadClaim(claim));
  REQUIRE(parsed);
  CHECK(parsed->node == "server-2");
  CHECK(parsed->snapshot == "etcd-snapshot-server-2-1700000003");
  CHECK(parsed->state == UploadClaim::State::kReady);
  claim.state = UploadClaim::State::kUploading;
  claim.snapshot = "";
  parsed = ParseUploadClaim(FormatUploadClaim(claim));
  REQUIRE(parsed);
  CHECK(parsed->state == UploadClaim::State::kUploading);

  for (const char* text : {"", "x", "[]", "{}", R"({"node":"a","snapshot":"b"})",
                           R"({"node":"a","snapshot":"b","state":"done"})",
                           R"({"node":1,"snapshot":"b","state":"ready"})"}) {
    INFO(text);
    CHECK_FALSE(ParseUploadClaim(text));
  }
}

TEST_CASE("a server that lost the claim waits, stops, or takes over", "[coordination]") {
  const UploadClaim uploading{"server-1", "", UploadClaim::State::kUploading};
  const UploadClaim ready{"server-1", "etcd-snapshot-server-1-1700000000",
                          UploadClaim::State::kReady};
  CHECK(FollowUp(FormatUploadClaim(uploading)) == ClaimFollowUp::kWait);
  CHECK(FollowUp(FormatUploadClaim(ready)) == ClaimFollowUp::kDone);
  // Gone: its holder died (the lease expired) or gave up (revoked) before it was ready.
  CHECK(FollowUp(std::nullopt) == ClaimFollowUp::kTakeOver);
  // Unreadable: someone holds it all the same, until its lease ends.
  CHECK(FollowUp(std::string("garbage")) == ClaimFollowUp::kWait);
}
