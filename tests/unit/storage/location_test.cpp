// SC_DB decides the backend: a path is SQLite as before, a postgresql:// or
// postgres:// URL is PostgreSQL, and anything else that looks like a URL is
// refused in one line that never shows a password (it used to become the
// name of a new SQLite file).
#include "sc/storage/location.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace sc {
namespace {

using storage::Backend;
using storage::parse_location;

std::string refusal(const std::string& sc_db) {
  try {
    (void)parse_location(sc_db, 10);
    return {};
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

TEST(Location, APathIsSqliteAndKeptAsGiven) {
  for (const std::string path : {"./data/stayconnected.db", "/var/lib/sc/sc.db", "sc.db",
                                 "data/http:x.db", "./postgresql://x", ":memory:"}) {
    auto loc = parse_location(path, 10);
    EXPECT_EQ(loc.backend, Backend::kSqlite) << path;
    EXPECT_EQ(loc.value, path);
    EXPECT_EQ(loc.redacted, path);
  }
}

TEST(Location, APostgresUrlGetsABoundedConnectTimeout) {
  auto loc = parse_location("postgresql://sc@db.internal:5432/sc", 10);
  EXPECT_EQ(loc.backend, Backend::kPostgres);
  EXPECT_EQ(loc.value, "postgresql://sc@db.internal:5432/sc?connect_timeout=10");
  EXPECT_EQ(loc.redacted, loc.value);
  EXPECT_EQ(parse_location("postgres://db/sc?sslmode=require", 7).value,
            "postgres://db/sc?sslmode=require&connect_timeout=7");
  EXPECT_EQ(parse_location("postgresql:///sc?host=/run/postgresql&", 3).value,
            "postgresql:///sc?host=/run/postgresql&connect_timeout=3");
  // One the operator set is kept as it is.
  EXPECT_EQ(parse_location("postgresql://db/sc?connect_timeout=2", 10).value,
            "postgresql://db/sc?connect_timeout=2");
  // The scheme in capitals means the same (libpq only takes it in lower case).
  EXPECT_EQ(parse_location("PostgreSQL://db/sc", 10).value,
            "postgresql://db/sc?connect_timeout=10");
}

TEST(Location, TheRedactedFormHasNoPassword) {
  auto loc = parse_location("postgresql://sc:s3cr%2Ft@db/sc", 10);
  EXPECT_EQ(loc.value, "postgresql://sc:s3cr%2Ft@db/sc?connect_timeout=10");
  EXPECT_EQ(loc.redacted, "postgresql://sc:***@db/sc?connect_timeout=10");
  loc = parse_location("postgres://db/sc?user=sc&password=hunter22&sslmode=require", 10);
  EXPECT_EQ(loc.redacted,
            "postgres://db/sc?user=sc&password=***&sslmode=require&connect_timeout=10");
  EXPECT_EQ(loc.value.find("***"), std::string::npos);
}

TEST(Location, OtherUrlsAreRefusedInOneLine) {
  const std::string accepted = " (a SQLite file path, or a postgresql:// or postgres:// URL)";
  EXPECT_EQ(refusal("mysql://sc:pw@db/sc"),
            "mysql:// is not a database this service can use" + accepted);
  EXPECT_EQ(refusal("postgressql://sc:pw@db/sc"),
            "postgressql:// is not a database this service can use" + accepted);
  EXPECT_EQ(refusal("sqlite:///var/lib/sc/sc.db"),
            "sqlite:// is not a database this service can use" + accepted);
  EXPECT_EQ(refusal("http://db/sc"), "http:// is not a database this service can use" + accepted);
  EXPECT_EQ(refusal("postgresql:/db/sc"),
            "a PostgreSQL URL starts with postgresql:// or postgres://");
  EXPECT_EQ(refusal("postgres:db"), "a PostgreSQL URL starts with postgresql:// or postgres://");
  EXPECT_EQ(refusal(""), "no database given" + accepted);
}

TEST(Location, AUrlLibpqCannotParseIsRefusedWithoutItsPassword) {
  auto why = refusal("postgresql://sc:pw@db/sc?nosuchoption=1");
  EXPECT_EQ(why,
            "libpq cannot parse the PostgreSQL URL: invalid URI query parameter: "
            "\"nosuchoption\"");
  // libpq's own message would quote the whole URL, password included.
  why = refusal("postgresql://sc:topsecret@[::1/sc");
  EXPECT_EQ(why.rfind("libpq cannot parse the PostgreSQL URL: ", 0), 0u) << why;
  EXPECT_EQ(why.find("topsecret"), std::string::npos) << why;
  why = refusal("postgresql://sc@db/sc?password=topsecret%zz");
  EXPECT_EQ(why.rfind("libpq cannot parse the PostgreSQL URL: ", 0), 0u) << why;
  EXPECT_EQ(why.find("topsecret"), std::string::npos) << why;
  for (const auto& line :
       {refusal("postgresql://sc:pw@db/sc?nosuchoption=1"), refusal("mysql://a:b@c/d")})
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
}

TEST(Location, TheTimeoutIsBounded) {
  EXPECT_THROW(parse_location("sc.db", 0), std::invalid_argument);
  EXPECT_THROW(parse_location("sc.db", 601), std::invalid_argument);
  EXPECT_NO_THROW(parse_location("sc.db", 600));
}

}  // namespace
}  // namespace sc
