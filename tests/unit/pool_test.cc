// The pool's logic with scripted connections: no server needed.
#include "poolscope/pool/pool.h"

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Eventually;
using ::testing::HasSubstr;

// World is what the scripted connections share with the test.
struct World {
  std::atomic<bool> refuse{false};  // Connect fails
  std::atomic<int> opened{0};
  std::atomic<int> alive{0};
  std::atomic<bool> break_on_query{false};
};

class FakeConnection : public Connection {
 public:
  explicit FakeConnection(World* w) : w_(w) { ++w_->alive; }
  ~FakeConnection() override { --w_->alive; }
  Result<Rows> Execute(std::string_view, const Params&, bool) override {
    if (w_->break_on_query) {
      broken_ = true;
      return Error(ErrorCode::kUnavailable, "server closed the connection", "08006");
    }
    return Rows();
  }
  Status Ping(Clock::time_point) override {
    if (broken_) return Error(ErrorCode::kUnavailable, "broken");
    return OkStatus();
  }
  bool Reset(Duration) override { return !broken_; }
  bool Broken() const override { return broken_; }
  int BackendPid() const override { return 1000; }
  int PreparedCount() const override { return 0; }

 private:
  World* w_;
  bool broken_ = false;
};

class FakeFactory : public ConnectionFactory {
 public:
  explicit FakeFactory(World* w) : w_(w) {}
  Result<std::unique_ptr<Connection>> Connect(Clock::time_point, std::stop_token) override {
    if (w_->refuse) return Error(ErrorCode::kUnavailable, "connection refused");
    ++w_->opened;
    return std::unique_ptr<Connection>(std::make_unique<FakeConnection>(w_));
  }

 private:
  World* w_;
};

std::unique_ptr<Pool> MakePool(World* w, PoolConfig c) {
  auto p = Pool::CreateWithFactory(std::move(c), std::make_unique<FakeFactory>(w));
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

PoolConfig Small(int max_size) {
  PoolConfig c;
  c.name = "unit";
  c.max_size = max_size;
  return c;
}

TEST(PoolUnitTest, InvalidConfigIsRejected) {
  World w;
  PoolConfig c = Small(0);
  auto p = Pool::CreateWithFactory(c, std::make_unique<FakeFactory>(&w));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message, "max_size: must be from 1 to 1024");
  c = Small(2);
  c.min_idle = 3;
  EXPECT_FALSE(Pool::CreateWithFactory(c, std::make_unique<FakeFactory>(&w)).ok());
  EXPECT_FALSE(Pool::Create(Small(2)).ok()) << "a libpq pool needs a DSN";
}

TEST(PoolUnitTest, ConnectFailureIsAnErrorValueThatSaysWhy) {
  World w;
  w.refuse = true;
  auto pool = MakePool(&w, Small(2));
  auto l = pool->Acquire(200ms);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(l.error().message, HasSubstr("cannot open a connection: connection refused"));
  w.refuse = false;
  EXPECT_TRUE(pool->Acquire(200ms).ok());
}

TEST(PoolUnitTest, BrokenConnectionIsDiscardedAndNoSlotIsLost) {
  World w;
  PoolConfig c = Small(2);
  c.min_idle = 2;
  auto pool = MakePool(&w, c);
  ASSERT_TRUE(Eventually(2s, [&] { return pool->State().idle == 2; }));
  {
    auto l = pool->Acquire();
    ASSERT_TRUE(l.ok());
    w.break_on_query = true;
    EXPECT_FALSE(l->Query("SELECT 1").ok());
    w.break_on_query = false;
  }
  EXPECT_TRUE(Eventually(2s, [&] { return pool->State().idle == 2 && w.alive == 2; }))
      << "replaced in the background up to min_idle";
  EXPECT_EQ(w.opened, 3);
}

TEST(PoolUnitTest, ClosingWaitsForLeasesAndClosesEverything) {
  World w;
  auto pool = MakePool(&w, Small(3));
  auto l = pool->Acquire();
  ASSERT_TRUE(l.ok());
  auto idle = pool->Acquire();
  ASSERT_TRUE(idle.ok());
  idle->Release();
  std::thread t([&] {
    std::this_thread::sleep_for(100ms);
    l->Release();
  });
  auto t0 = std::chrono::steady_clock::now();
  pool.reset();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms) << "waited for the lease";
  t.join();
  EXPECT_EQ(w.alive, 0);
}

TEST(PoolUnitTest, EmptyLeaseQueriesFailCleanly) {
  World w;
  auto pool = MakePool(&w, Small(1));
  auto l = pool->Acquire();
  ASSERT_TRUE(l.ok());
  Lease moved = std::move(*l);
  auto r = l->Query("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("empty lease"));
  EXPECT_TRUE(moved.Query("SELECT 1").ok());
}

TEST(PoolUnitTest, HammeringKeepsCountsConsistent) {
  World w;
  PoolConfig c = Small(4);
  c.leak_threshold = 50ms;
  c.slow_query_threshold = 0s;
  auto pool = MakePool(&w, c);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto l = pool->Acquire(5s);
        if (l && l->Query("SELECT 1").ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 16000);
  PoolState st = pool->State();
  EXPECT_EQ(st.active, 0);
  EXPECT_EQ(st.waiting, 0);
  EXPECT_LE(st.open, 4);
  EXPECT_EQ(w.alive, st.open);
}

}  // namespace
}  // namespace poolscope
