#include "tracker/config.hpp"

#include <gtest/gtest.h>

using namespace cascade;

namespace {
const std::string hash64 = "fce6a7d8c44c99efcc13087f963695e53e405796cc3728aef70749ff60b4944f";

TrackerConfig parse(const std::string& text, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> w;
  auto c = parse_tracker_config(text, w);
  if (warnings) *warnings = w;
  return c;
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(TrackerConfig, AcceptsTheExistingFormatUnchanged) {
  auto c = parse(R"({"port": 8888, "allowedhashes": [")" + hash64 +
                 R"("], "good-ips": ["1.2.3.4"], "ban-private": true})");
  EXPECT_EQ(c.port, 8888);
  EXPECT_FALSE(c.open);
  EXPECT_EQ(c.allowed_hashes.size(), 1u);
  EXPECT_TRUE(c.good_ips.contains(0x01020304));
  EXPECT_TRUE(c.ban_private);
}

TEST(TrackerConfig, IsOpenWithoutAllowedHashesAndHonoursExplicitOpen) {
  EXPECT_TRUE(parse(R"({"port": 1})").open);
  EXPECT_FALSE(parse(R"({"port": 1, "allowedhashes": []})").open);
  EXPECT_TRUE(parse(R"({"port": 1, "allowedhashes": [], "open": true})").open);
}

TEST(TrackerConfig, ReadsCascadeKeys) {
  auto c = parse(
      R"({"port": 1, "peer-ttl-seconds": 5, "max-peers-reported": 7, "require-source-ip": true,
                     "max-connections": 9, "request-timeout-ms": 250, "bind": "127.0.0.1", "max-peers": 11})");
  EXPECT_EQ(c.peer_ttl_seconds, 5u);
  EXPECT_EQ(c.max_peers_reported, 7u);
  EXPECT_TRUE(c.require_source_ip);
  EXPECT_EQ(c.max_connections, 9u);
  EXPECT_EQ(c.request_timeout_ms, 250u);
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.max_peers, 11u);
}

TEST(TrackerConfig, WarnsAboutUnknownKeys) {
  std::vector<std::string> w;
  parse(R"({"port": 1, "colour": "blue"})", &w);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("colour"), std::string::npos);
}

TEST(TrackerConfig, ErrorsNameTheOffendingKey) {
  EXPECT_NE(error_of(R"({"port": "8888"})").find("\"port\""), std::string::npos);
  EXPECT_NE(error_of(R"({"port": 70000})").find("\"port\""), std::string::npos);
  EXPECT_NE(error_of(R"({"port": -1})").find("\"port\""), std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "allowedhashes": ["abc"]})").find("\"allowedhashes\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "allowedhashes": "x"})").find("\"allowedhashes\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "good-ips": ["1.2.3"]})").find("\"good-ips\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "ban-private": "yes"})").find("\"ban-private\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "bind": "localhost"})").find("\"bind\""), std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "peer-ttl-seconds": 0})").find("\"peer-ttl-seconds\""),
            std::string::npos);
  EXPECT_NE(error_of("{not json").find("JSON"), std::string::npos);
  EXPECT_NE(error_of("[1,2]").find("object"), std::string::npos);
}

TEST(TrackerConfig, MissingPortIsLeftToTheCommandLine) {
  EXPECT_FALSE(parse("{}").port.has_value());
}

TEST(TrackerConfig, ANumberTooLargeForAnyTypeIsAConfigErrorNotACrash) {
  // Found by scripts/fuzz.sh: nlohmann::json throws out_of_range, not parse_error, for 3e405796.
  EXPECT_NE(error_of(R"({"port": 3e405796})").find("JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1, "x": [3e405796]})").find("JSON"), std::string::npos);
}

TEST(TrackerConfig, DeepNestingIsRefusedBeforeItIsBuilt) {
  const std::string deep =
      R"({"port": 1, "x": )" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_NE(error_of(deep).find("nested deeper than 16 levels"), std::string::npos);
  // As deep as a config has any reason to be: fine (an unknown key, warned about).
  EXPECT_EQ(error_of(R"({"port": 1, "x": [[[[1]]]]})"), "");
}

TEST(TrackerConfig, AnUnknownKeyIsQuotedSoItsWarningStaysOneLine) {
  std::vector<std::string> warnings;
  parse("{\"port\": 1, \"a\\nFAKE error\\u001b[31m\": 1}", &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], R"(unknown key "a\nFAKE error\u001b[31m" ignored)");
}

// JSON lets the last of two equal keys win without a word; in a configuration that is a mistake
// (two ports, two lists of hashes), said with the key, at any depth, and only within one object.
TEST(TrackerConfig, AKeyGivenTwiceInOneObjectIsAnError) {
  EXPECT_EQ(error_of(R"({"port": 1, "open": true, "port": 2})"), "key \"port\" is given twice");
  EXPECT_EQ(error_of(R"({"port": 1, "x": [{"a": 1, "a": 2}]})"), "key \"a\" is given twice");
  EXPECT_EQ(error_of("{\"port\": 1, \"a\\n\": 1, \"a\\n\": 1}"), R"(key "a\n" is given twice)");
  // The same key in two objects, or nested under itself, is no duplicate.
  EXPECT_EQ(error_of(R"({"port": 1, "x": [{"a": 1}, {"a": 2}], "a": {"a": {"a": 3}}})"), "");
}

// What follows the object is not configuration: a NUL byte or a second object is refused.
TEST(TrackerConfig, AnythingAfterTheObjectIsRefused) {
  EXPECT_NE(error_of(std::string(R"({"port": 1})") + '\0').find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"port": 1} {"port": 2})").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(error_of("{\"port\": 1}\n\n"), "");
}
