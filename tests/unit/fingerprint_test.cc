#include "poolscope/pool/fingerprint.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace poolscope {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Lower returns `s` with ASCII letters lower-cased, to look for a leaked
// literal whatever case the fingerprint gave it.
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ExpectNoSecret checks that no part of a literal marked "secret" leaks.
void ExpectNoSecret(const std::string& sql) {
  std::string fp = Fingerprint(sql);
  EXPECT_THAT(Lower(fp), Not(HasSubstr("secret"))) << "sql: " << sql << "\nfingerprint: " << fp;
}

TEST(FingerprintTest, SimpleStringLiteral) {
  EXPECT_EQ(Fingerprint("SELECT * FROM users WHERE password = 'hunter2-secret'"),
            "select * from users where password = ?");
  EXPECT_EQ(Fingerprint("select 'it''s a secret' from t"), "select ? from t");
  EXPECT_EQ(Fingerprint("select '' from t"), "select ? from t");
  ExpectNoSecret("select 'a''secret''b'");
}

TEST(FingerprintTest, EscapeStringLiteral) {
  EXPECT_EQ(Fingerprint(R"(select E'it\'s secret\\' from t)"), "select ? from t");
  EXPECT_EQ(Fingerprint(R"(select e'a\nsecret' , 1)"), "select ?, ?");
  ExpectNoSecret(R"(select E'\'' || 'secret')");
}

TEST(FingerprintTest, DollarQuotedLiterals) {
  EXPECT_EQ(Fingerprint("select $$secret 'text'$$ from t"), "select ? from t");
  EXPECT_EQ(Fingerprint("select $tag$ secret $$ still secret $tag$, 1"), "select ?, ?");
  EXPECT_EQ(Fingerprint("select $a1$x$a$secret$a1$"), "select ?");
  EXPECT_EQ(Fingerprint("do $body$ begin raise 'secret'; end $body$"), "do ?");
}

TEST(FingerprintTest, PrefixedStringLiterals) {
  EXPECT_EQ(Fingerprint("select B'1010', X'DEADBEEF', N'secret', U&'d\\0061t\\+000061'"),
            "select ?, ?, ?, ?");
  // A prefix letter is only a prefix when it is a whole word.
  EXPECT_EQ(Fingerprint("select abe 'secret'"), "select abe ?");
}

TEST(FingerprintTest, TypedLiteralsKeepTheirType) {
  EXPECT_EQ(Fingerprint("select DATE '2024-01-02', interval '1 day', '{1,2}'::int[]"),
            "select date ?, interval ?, ?::int[]");
}

TEST(FingerprintTest, NumericLiterals) {
  const char* sql =
      "select 12345, 3.14159, .5, 7., 6.02e23, 1E-9, 2.5e+3, 0x1F2E, 0o17, 0b1011, 1_000_000";
  EXPECT_EQ(Fingerprint(sql), "select ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?");
  std::string fp = Fingerprint("select 987654321 from t where x > 4242.75");
  EXPECT_EQ(fp, "select ? from t where x > ?");
  EXPECT_THAT(fp, Not(HasSubstr("987")));
  EXPECT_THAT(fp, Not(HasSubstr("4242")));
}

TEST(FingerprintTest, LettersGluedToNumberAreSwallowed) {
  EXPECT_EQ(Fingerprint("select 123abc, 0xfeedface"), "select ?, ?");
  EXPECT_EQ(Fingerprint("select 1as x"), "select ? x");
}

TEST(FingerprintTest, DigitsInIdentifiersKept) {
  EXPECT_EQ(Fingerprint("SELECT t1.col_2, a$1, x2y FROM t1 JOIN t22 ON t1.id = t22.id"),
            "select t1.col_2, a$1, x2y from t1 join t22 on t1.id = t22.id");
  EXPECT_EQ(Fingerprint("select _9 from \"Table9\""), "select _9 from \"Table9\"");
}

TEST(FingerprintTest, ParametersBecomePlaceholders) {
  EXPECT_EQ(Fingerprint("select * from t where a = $1 and b = $12::text"),
            "select * from t where a = ? and b = ?::text");
  // The same statement with literals and with bind parameters matches.
  EXPECT_EQ(Fingerprint("update t set a = $1 where id = $2"),
            Fingerprint("update t set a = 'x' where id = 7"));
}

TEST(FingerprintTest, NegativeNumbersFoldTheSign) {
  EXPECT_EQ(Fingerprint("select * from t where a = -5"), "select * from t where a = ?");
  EXPECT_EQ(Fingerprint("select * from t where a=-5"), "select * from t where a = ?");
  EXPECT_EQ(Fingerprint("select -1, +2, f(-3), a >= -4.5e1"), "select ?, ?, f(?), a >= ?");
  EXPECT_EQ(Fingerprint("select a - - 5 from t where b between -1 and -2"),
            "select a - ? from t where b between ? and ?");
  EXPECT_EQ(Fingerprint("select case when a then -1 else -2 end"),
            "select case when a then ? else ? end");
  EXPECT_EQ(Fingerprint("select -$1"), "select ?");
}

TEST(FingerprintTest, BinaryMinusKept) {
  EXPECT_EQ(Fingerprint("select a-5, a - 5, (a)-5, b[1]-5, \"Q\"-5"),
            "select a - ?, a - ?, (a) - ?, b[?] - ?, \"Q\" - ?");
  EXPECT_EQ(Fingerprint("select -a"), "select - a");
}

TEST(FingerprintTest, InListCollapses) {
  EXPECT_EQ(Fingerprint("select * from t where id in (1, 2, 3)"),
            "select * from t where id in (?)");
  EXPECT_EQ(Fingerprint("select * from t where id IN ('a','b')"),
            "select * from t where id in (?)");
  EXPECT_EQ(Fingerprint("select * from t where id in ($1, $2, $3, $4)"),
            "select * from t where id in (?)");
  EXPECT_EQ(Fingerprint("select * from t where id not in (-1, 2)"),
            "select * from t where id not in (?)");
  EXPECT_EQ(Fingerprint("select * from t where (a, b) in ((1, 2), (3, 4), (5, 6))"),
            "select * from t where (a, b) in ((?, ?))");
  EXPECT_EQ(Fingerprint("select * from t where id in (7)"), "select * from t where id in (?)");
  // Every list length gives the same fingerprint.
  std::string longer = "select * from t where id in (0";
  for (int i = 1; i < 5000; ++i) longer += ", " + std::to_string(i);
  longer += ")";
  EXPECT_EQ(Fingerprint(longer), "select * from t where id in (?)");
}

TEST(FingerprintTest, InListWithNonConstantsKept) {
  EXPECT_EQ(Fingerprint("select * from t where id in (1, x, 2)"),
            "select * from t where id in (?, x, ?)");
  EXPECT_EQ(Fingerprint("select * from t where id in (select id from u where v in (1,2))"),
            "select * from t where id in (select id from u where v in (?))");
}

TEST(FingerprintTest, ValuesCollapseToFirstTuple) {
  EXPECT_EQ(Fingerprint("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"),
            "insert into t(a, b) values (?, ?)");
  EXPECT_EQ(Fingerprint("insert into t values ($1, $2), ($3, $4) on conflict (a) do nothing"),
            "insert into t values (?, ?) on conflict (a) do nothing");
  EXPECT_EQ(Fingerprint("insert into t values (1, default), (2, now())"),
            "insert into t values (?, default)");
  EXPECT_EQ(Fingerprint("insert into t values (1, array[1,2]), (2, array[3])"),
            "insert into t values (?, array[?])");
  EXPECT_EQ(Fingerprint("select * from (values (1, 'a'), (2, 'b')) as v(id, name)"),
            "select * from (values (?, ?)) as v(id, name)");
  EXPECT_EQ(Fingerprint("insert into t values (1) returning id"),
            "insert into t values (?) returning id");
  EXPECT_EQ(Fingerprint("insert into t values (1), (2)"), Fingerprint("insert into t values (9)"));
}

TEST(FingerprintTest, ArrayCollapses) {
  EXPECT_EQ(Fingerprint("select ARRAY[1,2,3]"), "select array[?]");
  EXPECT_EQ(Fingerprint("select array[[1, 2], [3, 4]]"), "select array[?]");
  EXPECT_EQ(Fingerprint("select * from t where id = any(ARRAY[$1, $2])"),
            "select * from t where id = any(array[?])");
  EXPECT_EQ(Fingerprint("select array[a, 1], array[]::int[]"),
            "select array[a, ?], array[]::int[]");
}

TEST(FingerprintTest, CommentsRemoved) {
  EXPECT_EQ(Fingerprint("select 1 -- secret comment\nfrom t"), "select ? from t");
  EXPECT_EQ(Fingerprint("select 1 -- trailing secret"), "select ?");
  EXPECT_EQ(Fingerprint("select /* secret */ a /* x /* nested secret */ y */ from t"),
            "select a from t");
  EXPECT_EQ(Fingerprint("select a/**/from t"), "select a from t");
  EXPECT_EQ(Fingerprint("/* leading */ select 1"), "select ?");
  // Comment starts inside an operator end the operator, as in PostgreSQL.
  EXPECT_EQ(Fingerprint("select a+--secret\n1"), "select a + ?");
  EXPECT_EQ(Fingerprint("select a*/*secret*/2"), "select a * ?");
  // Comment markers inside literals are literal text.
  EXPECT_EQ(Fingerprint("select '--', '/*', 1"), "select ?, ?, ?");
  EXPECT_EQ(Fingerprint("-- only a comment"), "");
  EXPECT_EQ(Fingerprint("   \n\t "), "");
  EXPECT_EQ(Fingerprint(""), "");
}

TEST(FingerprintTest, CaseAndWhitespaceNormalised) {
  EXPECT_EQ(Fingerprint("  SELECT\tA,\n\n  B\r\nFROM   Some_Table  WHERE X=1  "),
            "select a, b from some_table where x = ?");
  EXPECT_EQ(Fingerprint("SeLeCt CoUnT(*) FrOm T"), "select count(*) from t");
}

TEST(FingerprintTest, SpacingIndependentOfInput) {
  const std::vector<std::pair<std::string, std::string>> same = {
      {"SELECT * FROM t WHERE id = 1", "select *   from t where id=42"},
      {"select a,b from t", "select a , b from t"},
      {"select f( a , b )", "select f(a,b)"},
      {"select x :: int", "select x::int"},
      {"select t . col", "select t.col"},
      {"select * from t where a<>1 and b!=2", "select * from t where a <> 1 and b != 2"},
      {"select a[ 1 ]", "select a[1]"},
      {"select * from t where id in(1,2)", "select * from t where id IN ( 3 )"},
      {"insert into t(a)values(1),(2)", "insert into t (a) values (1)"},
      {"select 1;", "select 1"},
      {"select a||b", "select a || b"},
  };
  for (const auto& [a, b] : same) {
    EXPECT_EQ(Fingerprint(a), Fingerprint(b)) << a << " vs " << b;
  }
  EXPECT_EQ(Fingerprint("select * from t where a != 1"), "select * from t where a <> ?");
  EXPECT_EQ(Fingerprint("select 1; select 2;;"), "select ?; select ?");
  EXPECT_EQ(Fingerprint("select x from t where exists(select 1)"),
            "select x from t where exists (select ?)");
}

TEST(FingerprintTest, QuotedIdentifiersKeptVerbatim) {
  EXPECT_EQ(Fingerprint("SELECT \"MixedCase\", \"with space\", \"a\"\"b\" FROM \"Schema\".\"T\""),
            "select \"MixedCase\", \"with space\", \"a\"\"b\" from \"Schema\".\"T\"");
  EXPECT_EQ(Fingerprint("select U&\"d\\0061t\""), "select u&\"d\\0061t\"");
  // Control bytes inside a quoted identifier never reach a log line as such.
  EXPECT_EQ(Fingerprint("select \"a\nb\""), "select \"a b\"");
}

TEST(FingerprintTest, UnterminatedLiteralsNeverLeak) {
  EXPECT_EQ(Fingerprint("select * from t where a = 'secret and more secret"),
            "select * from t where a = ?");
  EXPECT_EQ(Fingerprint("select E'secret\\' and more"), "select ?");
  EXPECT_EQ(Fingerprint("select $$secret"), "select ?");
  EXPECT_EQ(Fingerprint("select $t$secret $$ $x$"), "select ?");
  EXPECT_EQ(Fingerprint("select \"secret, 'x'"), "select ?");
  EXPECT_EQ(Fingerprint("select 1 /* secret"), "select ?");
  EXPECT_EQ(Fingerprint("select 1 /* a /* b */ secret"), "select ?");
  EXPECT_EQ(Fingerprint("select 'secret''"), "select ?");
  EXPECT_EQ(Fingerprint("'secret"), "?");
}

TEST(FingerprintTest, BackslashQuoteAmbiguityNeverLeaks) {
  // With standard_conforming_strings on, 'C:\' ends at its last quote and
  // 'secret' is a literal; with it off, the string runs on. Either way no
  // literal text may show, so the rest is dropped.
  EXPECT_EQ(Fingerprint("select 'C:\\' , 'secret' from t"), "select ?");
  EXPECT_EQ(Fingerprint("select 'a\\' || secret || '' from t"), "select ?");
  // A backslash not before a quote is unambiguous.
  EXPECT_EQ(Fingerprint("select 'C:\\temp', a from t"), "select ?, a from t");
  EXPECT_EQ(Fingerprint("select 'a\\\\' , b"), "select ?, b");
}

TEST(FingerprintTest, NoLiteralLeaksFromManyShapes) {
  const std::vector<std::string> shapes = {
      "select 'secret'",
      "select E'secret'",
      "select e'\\'secret'",
      "select $$secret$$",
      "select $q$secret$q$",
      "select N'secret'",
      "select U&'secret'",
      "select x'5ecre7'",
      "select 'SECRET'::text",
      "select * from t where a in ('secret', 'secret2')",
      "insert into t values ('secret'), ('secret')",
      "select array['secret']",
      "select 'sec' 'ret' || 'secret'",
      "select 'secret",
      "select E'secret",
      "select $z$secret",
      "select 'secret\\' , 'x'",
      "select '''secret'''",
      "select /* 'secret' */ 1",
      "select 1 -- 'secret'",
  };
  for (const std::string& sql : shapes) ExpectNoSecret(sql);
}

TEST(FingerprintTest, LengthCapped) {
  std::string sql = "select ";
  for (int i = 0; i < 500; ++i) sql += "column_number_" + std::to_string(i) + ", ";
  sql += "x from t";
  std::string fp = Fingerprint(sql);
  EXPECT_LE(fp.size(), kMaxFingerprintBytes);
  EXPECT_GT(fp.size(), kMaxFingerprintBytes - 40);
  EXPECT_THAT(fp, StartsWith("select column_number_0, column_number_1,"));
  EXPECT_THAT(fp, EndsWith(" ..."));
  // The cut is at a token boundary: what precedes the marker is a prefix of
  // the full rendering followed by a separator or the end of a token.
  std::string body = fp.substr(0, fp.size() - 4);
  EXPECT_THAT(body, Not(EndsWith(" ")));
  std::string last = body.substr(body.rfind(' ') + 1);
  EXPECT_THAT(last, ::testing::MatchesRegex("(column_number_[0-9]+,|select)"));
}

TEST(FingerprintTest, HugeSingleTokenCapped) {
  std::string fp = Fingerprint("select " + std::string(5000, 'a'));
  EXPECT_EQ(fp, "select ...");
  EXPECT_EQ(Fingerprint(std::string(5000, 'b')), "...");
}

TEST(FingerprintTest, ShortFingerprintsAreNotCut) {
  std::string sql = "select " + std::string(kMaxFingerprintBytes - 7, 'a');
  EXPECT_EQ(Fingerprint(sql), sql);
}

TEST(FingerprintTest, ListsLongerThanLookAhead) {
  // Constant lists far longer than the collapser's look-ahead still collapse.
  std::string values = "insert into t values (0, 'a')";
  std::string array = "select array[0";
  for (int i = 1; i < 3000; ++i) {
    values += ", (" + std::to_string(i) + ", 'a')";
    array += ", " + std::to_string(i);
  }
  EXPECT_EQ(Fingerprint(values + " returning id"), "insert into t values (?, ?) returning id");
  EXPECT_EQ(Fingerprint(array + "] from t"), "select array[?] from t");
  // A long list that turns out not to be constant is rendered, then cut.
  std::string mixed = "select * from t where id in (0";
  for (int i = 1; i < 3000; ++i) mixed += ", " + std::to_string(i);
  std::string fp = Fingerprint(mixed + ", x)");
  EXPECT_THAT(fp, StartsWith("select * from t where id in (?, ?, ?, "));
  EXPECT_THAT(fp, EndsWith(" ..."));
  EXPECT_LE(fp.size(), kMaxFingerprintBytes);
}

TEST(FingerprintTest, LongSignRuns) {
  std::string unary = "select ";
  for (int i = 0; i < 3000; ++i) unary += "- ";
  EXPECT_EQ(Fingerprint(unary + "5 from t"), "select ? from t");
  std::string binary = "select a ";
  for (int i = 0; i < 3000; ++i) binary += "- ";
  EXPECT_EQ(Fingerprint(binary + "5 from t"), "select a - ? from t");
  std::string dangling = "select a ";
  for (int i = 0; i < 3000; ++i) dangling += "- ";
  std::string fp = Fingerprint(dangling + "b");
  EXPECT_THAT(fp, StartsWith("select a - - -"));
  EXPECT_THAT(fp, EndsWith(" ..."));
  EXPECT_LE(fp.size(), kMaxFingerprintBytes);
}

TEST(FingerprintTest, HugeInputsStayBounded) {
  // Each of these is megabytes long; the result is capped and nothing leaks.
  const std::vector<std::string> inputs = {
      std::string(4 << 20, '('),
      std::string(4 << 20, '-'),
      "select " + std::string(4 << 20, 'x'),
      "select '" + std::string(4 << 20, 's') + "'",
      "select 1 " + std::string(4 << 20, ';'),
  };
  for (const std::string& sql : inputs) {
    std::string fp = Fingerprint(sql);
    EXPECT_LE(fp.size(), kMaxFingerprintBytes);
    EXPECT_THAT(fp, Not(HasSubstr("sss")));
  }
  EXPECT_EQ(Fingerprint("select 1 " + std::string(4 << 20, ';')), "select ?");
}

TEST(FingerprintTest, UnfinishedValuesTailDropped) {
  EXPECT_EQ(Fingerprint("insert into t values (1, 'a'), (2, 'secret"),
            "insert into t values (?, ?)");
  EXPECT_EQ(Fingerprint("insert into t values (1, 'a'), (2"), "insert into t values (?, ?)");
  EXPECT_EQ(Fingerprint("insert into t values (1, 'a'),"), "insert into t values (?, ?),");
}

TEST(FingerprintIdTest, KnownFnv1aValues) {
  EXPECT_EQ(FingerprintId(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(FingerprintId("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(FingerprintId("foobar"), 0x85944171f73967e8ULL);
}

TEST(FingerprintIdTest, EquivalentStatementsShareAnId) {
  const std::uint64_t a = FingerprintId(Fingerprint("SELECT * FROM t WHERE id = 1"));
  const std::uint64_t b = FingerprintId(Fingerprint("select *   from t where id=42"));
  const std::uint64_t c = FingerprintId(Fingerprint("select * from t where id = $1 -- x"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_NE(a, FingerprintId(Fingerprint("select * from t where key = 1")));
  EXPECT_EQ(FingerprintId("select ?"), FingerprintId("select ?"));
}

TEST(FingerprintLabelTest, SixteenLowerHexDigits) {
  EXPECT_EQ(FingerprintLabel(0), "0000000000000000");
  EXPECT_EQ(FingerprintLabel(0xdeadbeefULL), "00000000deadbeef");
  EXPECT_EQ(FingerprintLabel(~0ULL), "ffffffffffffffff");
  EXPECT_EQ(FingerprintLabel(0x0123456789abcdefULL), "0123456789abcdef");
  EXPECT_THAT(FingerprintLabel(FingerprintId("select ?")), ::testing::MatchesRegex("[0-9a-f]{16}"));
}

// Fp returns a distinct fingerprint for each i.
std::string Fp(int i) { return "select * from t" + std::to_string(i) + " where id = ?"; }

TEST(StatementLabelsTest, DefaultCapacity) {
  StatementLabels labels;
  EXPECT_EQ(labels.capacity(), 50u);
  EXPECT_EQ(StatementLabels::kDefaultCapacity, 50u);
}

TEST(StatementLabelsTest, AdmitsFirstComersThenFoldsIntoOther) {
  StatementLabels labels(3);
  EXPECT_EQ(labels.Label(Fp(0)), FingerprintLabel(FingerprintId(Fp(0))));
  EXPECT_EQ(labels.Label(Fp(1)), FingerprintLabel(FingerprintId(Fp(1))));
  EXPECT_EQ(labels.Label(Fp(0)), FingerprintLabel(FingerprintId(Fp(0))));
  EXPECT_EQ(labels.Label(Fp(2)), FingerprintLabel(FingerprintId(Fp(2))));
  EXPECT_EQ(labels.Label(Fp(3)), "other");
  EXPECT_EQ(labels.Label(Fp(4)), "other");
  // Admitted ones keep their label once the set is full; others stay out.
  EXPECT_EQ(labels.Label(Fp(1)), FingerprintLabel(FingerprintId(Fp(1))));
  EXPECT_EQ(labels.Label(Fp(3)), "other");

  auto admitted = labels.Admitted();
  ASSERT_EQ(admitted.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(admitted[i].first, FingerprintLabel(FingerprintId(Fp(i))));
    EXPECT_EQ(admitted[i].second, Fp(i));
  }
}

TEST(StatementLabelsTest, LabelsNeverContainSql) {
  StatementLabels labels(10);
  for (int i = 0; i < 20; ++i) {
    const std::string& label = labels.Label(Fp(i));
    EXPECT_THAT(label, ::testing::MatchesRegex("([0-9a-f]{16}|other)"));
    EXPECT_THAT(label, Not(HasSubstr("select")));
  }
}

TEST(StatementLabelsTest, ZeroCapacityAdmitsNothing) {
  StatementLabels labels(0);
  EXPECT_EQ(labels.Label(Fp(0)), "other");
  EXPECT_EQ(labels.Label(""), "other");
  EXPECT_TRUE(labels.Admitted().empty());
}

TEST(StatementLabelsTest, ReferenceStaysValid) {
  StatementLabels labels(100);
  const std::string& first = labels.Label(Fp(0));
  const std::string copy = first;
  for (int i = 1; i < 100; ++i) labels.Label(Fp(i));  // forces rehashing
  EXPECT_EQ(first, copy);
}

TEST(StatementLabelsTest, ConcurrentUseIsConsistent) {
  constexpr int kThreads = 8;
  constexpr int kDistinct = 200;
  constexpr std::size_t kCapacity = 40;
  constexpr int kRounds = 20;
  StatementLabels labels(kCapacity);
  // results[t][i] is the label thread t got for Fp(i) (same every round).
  std::vector<std::vector<std::string>> results(kThreads, std::vector<std::string>(kDistinct));
  std::vector<int> inconsistent(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (int k = 0; k < kDistinct; ++k) {
          const int i = (k * 7 + t * 31 + round) % kDistinct;  // a different order per thread
          const std::string& label = labels.Label(Fp(i));
          if (round == 0 && results[t][i].empty()) {
            results[t][i] = label;
          } else if (!results[t][i].empty() && results[t][i] != label) {
            ++inconsistent[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(inconsistent[t], 0) << "thread " << t;
  std::set<std::string> admitted_labels;
  for (const auto& [label, text] : labels.Admitted()) {
    EXPECT_EQ(label, FingerprintLabel(FingerprintId(text)));
    admitted_labels.insert(label);
  }
  EXPECT_EQ(admitted_labels.size(), kCapacity);
  for (int i = 0; i < kDistinct; ++i) {
    // Every thread saw the same label for the same fingerprint.
    for (int t = 1; t < kThreads; ++t) EXPECT_EQ(results[t][i], results[0][i]) << "fp " << i;
    const std::string& label = results[0][i];
    if (label != "other") {
      EXPECT_EQ(label, FingerprintLabel(FingerprintId(Fp(i))));
      EXPECT_TRUE(admitted_labels.count(label));
    }
  }
  const auto others = std::count(results[0].begin(), results[0].end(), std::string("other"));
  EXPECT_EQ(others, kDistinct - static_cast<int>(kCapacity));
}

}  // namespace
}  // namespace poolscope
