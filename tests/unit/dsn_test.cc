#include "poolscope/core/dsn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DsnTest, RedactsKeywordForm) {
  std::string r = RedactDsn("host=db port=5432 user=app password=hunter2 dbname=shop");
  EXPECT_THAT(r, Not(HasSubstr("hunter2")));
  EXPECT_THAT(r, HasSubstr("password=***"));
  EXPECT_THAT(r, HasSubstr("host=db"));
  EXPECT_THAT(r, HasSubstr("dbname=shop"));
}

TEST(DsnTest, RedactsUriForm) {
  std::string r = RedactDsn("postgresql://app:hunter2@db:5432/shop?sslmode=disable");
  EXPECT_THAT(r, Not(HasSubstr("hunter2")));
  EXPECT_THAT(r, HasSubstr("user=app"));
  EXPECT_THAT(r, HasSubstr("password=***"));
}

TEST(DsnTest, UnparseableNeverEchoes) {
  EXPECT_EQ(RedactDsn("host=db password='hunter2"), "<unparseable connection string>");
  Dsn d("host=db password=hunter2");
  EXPECT_THAT(d.Redacted(), Not(HasSubstr("hunter2")));
  EXPECT_EQ(d.Expose(), "host=db password=hunter2");
}

// Regression (dsn_fuzz.cc's round-trip property): a value holding a tab or a line
// break (here percent-encoded in a URI) was written unquoted, so the redacted
// string no longer parsed back to the same options.
TEST(DsnTest, RedactedValuesWithAnyWhiteSpaceAreQuoted) {
  std::string r = RedactDsn("postgresql://app:hunter2@db/a%09b?application_name=x%0Ay");
  EXPECT_THAT(r, Not(HasSubstr("hunter2")));
  EXPECT_THAT(r, HasSubstr("dbname='a\tb'"));
  EXPECT_THAT(r, HasSubstr("application_name='x\ny'"));
  std::string problem;
  EXPECT_TRUE(ValidateDsn(r, &problem)) << problem;
}

TEST(DsnTest, ValidateNamesTheProblem) {
  std::string problem;
  EXPECT_TRUE(ValidateDsn("host=db", &problem));
  EXPECT_FALSE(ValidateDsn("host=db bogus=1", &problem));
  EXPECT_THAT(problem, HasSubstr("invalid connection option \"bogus\""));
  EXPECT_FALSE(ValidateDsn("host=db password='x", &problem));
  EXPECT_EQ(problem, "a quoted value is not closed");
}

}  // namespace
}  // namespace poolscope
