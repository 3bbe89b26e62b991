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
