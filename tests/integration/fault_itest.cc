// Fault injection against real servers: every test starts its OWN
// throw-away PostgreSQL / Redis / PgBouncer through scripts/fixtures/*.sh,
// so it can kill, freeze, cut off or starve them without disturbing the
// other tests. Each test is bounded in time: every wait polls with a deadline.
//
//   KillRestartUnder32Threads     PostgreSQL SIGKILLed and restarted under load
//   FrozenServerDeadlinesFire     SIGSTOP on the postmaster and its backends
//   SilentNetworkIsDetected       a TCP relay that stops forwarding silently
//   MaxConnectionsReachedBacksOff the server's slots held by others
//   RedisKilledFailsOpenResumesL2 the cache without its Redis, then with it again
//   PgBouncerKilledSamplerRecovers the PgBouncer sampler across a crash
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures.h"
#include "poolscope/cache/cache.h"
#include "poolscope/cache/redis_l2.h"
#include "poolscope/core/host_port.h"
#include "poolscope/pool/pool.h"
#include "poolscope/samplers/pgbouncer_probe.h"

namespace poolscope {
namespace {

using namespace std::chrono_literals;
using ::poolscope::testing::Env;
using ::poolscope::testing::Eventually;
using ::poolscope::testing::Run;
using ::poolscope::testing::ServerFixture;
using SteadyClock = std::chrono::steady_clock;

// Scheduling slack allowed past a deadline on a loaded 2-core machine;
// sanitizer builds run several times slower.
#ifdef POOLSCOPE_SANITIZED
constexpr auto kSlack = 2000ms;
#else
constexpr auto kSlack = 400ms;
#endif

double Sample(const MetricsBook& book, const std::string& name, const prometheus::Labels& want) {
  double sum = 0;
  for (const auto& f : book.Collect()) {
    if (f.name != name) continue;
    for (const auto& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : want) {
        bool found = false;
        for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
        match = match && found;
      }
      if (match) sum += f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return sum;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// RawConn is one plain libpq connection (test-side observer or slot holder).
struct RawConn {
  explicit RawConn(const std::string& dsn) : pg(PQconnectdb(dsn.c_str())) {}
  ~RawConn() { PQfinish(pg); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  bool ok() const { return PQstatus(pg) == CONNECTION_OK; }
  // Scalar runs `sql` and returns the first field of the first row, or "".
  std::string Scalar(const std::string& sql) {
    PGresult* r = PQexec(pg, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    PQclear(r);
    return out;
  }
  bool Exec(const std::string& sql) {
    PGresult* r = PQexec(pg, sql.c_str());
    const bool good = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return good;
  }
  PGconn* pg;
};

// Relay forwards TCP between a loopback port of its own and `upstream_port`,
// one poll loop for every connection. Blackhole() makes it stop forwarding
// and stop accepting without closing anything: to both ends the network
// just went silent (the kernel still completes new handshakes into the
// listen backlog, and still acknowledges what is sent). It also counts the
// PostgreSQL CancelRequest packets that pass through it.
class Relay {
 public:
  explicit Relay(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 128) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return;
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Relay() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.server);
    }
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  int port() const { return port_; }
  void Blackhole(bool on) { blackhole_ = on; }
  int accepted() const { return accepted_.load(); }
  int cancels() const { return cancels_.load(); }

 private:
  struct Pair {
    int client;
    int server;
    std::string head;  // the client's first bytes, to spot a CancelRequest
    bool classified = false;
  };

  void Loop() {
    while (!stop_) {
      if (blackhole_) {
        std::this_thread::sleep_for(10ms);
        continue;
      }
      std::vector<pollfd> fds;
      fds.push_back({listen_fd_, POLLIN, 0});
      for (const auto& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      if (blackhole_) continue;
      std::vector<bool> dead(pairs_.size(), false);
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        for (int side = 0; side < 2; ++side) {
          const pollfd& f = fds[1 + 2 * i + side];
          if (f.revents == 0 || dead[i]) continue;
          Pair& p = pairs_[i];
          char buf[16384];
          const int from = side == 0 ? p.client : p.server;
          const int to = side == 0 ? p.server : p.client;
          const ssize_t n = ::recv(from, buf, sizeof buf, 0);
          if (n <= 0) {
            dead[i] = true;
            continue;
          }
          if (side == 0 && !p.classified) {
            p.head.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), 8));
            if (p.head.size() >= 8) {
              p.classified = true;
              std::uint32_t len, code;
              std::memcpy(&len, p.head.data(), 4);
              std::memcpy(&code, p.head.data() + 4, 4);
              if (ntohl(len) == 16 && ntohl(code) == 80877102) ++cancels_;
            }
          }
          if (!SendAll(to, buf, static_cast<std::size_t>(n))) dead[i] = true;
        }
      }
      for (std::size_t i = pairs_.size(); i-- > 0;) {
        if (!dead[i]) continue;
        ::close(pairs_[i].client);
        ::close(pairs_[i].server);
        pairs_.erase(pairs_.begin() + static_cast<long>(i));
      }
      if ((fds[0].revents & POLLIN) != 0) Accept();
    }
  }

  void Accept() {
    const int c = ::accept(listen_fd_, nullptr, nullptr);
    if (c < 0) return;
    ++accepted_;
    const int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(s);
      ::close(c);  // the server is down: refuse, as it would
      return;
    }
    pairs_.push_back({c, s, {}, false});
  }

  static bool SendAll(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> blackhole_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> cancels_{0};
  std::vector<Pair> pairs_;  // relay thread only
  std::thread thread_;
};

// Load runs `threads` callers that acquire with `acquire_timeout`, run `sql`
// and release, until stopped. It records how far past its deadline any
// acquire or query returned, and watches the pool's invariants every ms.
class Load {
 public:
  Load(Pool& pool, int threads, Duration acquire_timeout, std::string sql, Duration query_bound)
      : pool_(pool),
        acquire_timeout_(acquire_timeout),
        sql_(std::move(sql)),
        query_bound_(query_bound) {
    watcher_ = std::thread([this] {
      while (!stop_) {
        PoolState st = pool_.State();
        if (st.open > st.max_size || st.active > st.max_size || st.idle + st.active > st.max_size) {
          ++over_max;
        }
        std::this_thread::sleep_for(1ms);
      }
    });
    // A thread that only sleeps: how late it wakes is how long this loaded
    // machine can stall any thread, the pool's included.
    stall_meter_ = std::thread([this] {
      while (!stop_) {
        const auto t0 = SteadyClock::now();
        std::this_thread::sleep_for(5ms);
        Max(stall_ms, static_cast<std::int64_t>(Ms(SteadyClock::now() - t0 - 5ms)));
      }
    });
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { Work(); });
  }
  ~Load() { Stop(); }

  void Stop() {
    if (stop_.exchange(true)) return;
    for (auto& w : workers_) w.join();
    watcher_.join();
    stall_meter_.join();
  }

  // Allowed is how far past a deadline a call may return: the slack, plus
  // the longest stall the machine imposed on a sleeping thread meanwhile.
  double Allowed() const { return Ms(kSlack) + static_cast<double>(stall_ms.load()); }

  // last_ok is when a query last succeeded.
  SteadyClock::time_point last_ok() const {
    return SteadyClock::time_point(SteadyClock::duration(last_ok_.load()));
  }
  std::atomic<int> ok{0}, acquire_failed{0}, query_failed{0};
  std::atomic<int> over_max{0};
  std::atomic<std::int64_t> acquire_over_ms{0};  // worst acquire past its deadline
  std::atomic<std::int64_t> query_over_ms{0};    // worst query past its bound
  std::atomic<std::int64_t> stall_ms{0};         // worst scheduling stall seen
  std::mutex mu;
  std::vector<std::string> errors;  // distinct error messages, a few

 private:
  static void Max(std::atomic<std::int64_t>& a, std::int64_t v) {
    std::int64_t cur = a.load();
    while (v > cur && !a.compare_exchange_weak(cur, v)) {
    }
  }
  void Note(const std::string& e) {
    std::lock_guard lock(mu);
    if (errors.size() < 8 && std::find(errors.begin(), errors.end(), e) == errors.end()) {
      errors.push_back(e);
    }
  }
  void Work() {
    while (!stop_) {
      const auto t0 = SteadyClock::now();
      auto lease = pool_.Acquire(acquire_timeout_);
      const auto t1 = SteadyClock::now();
      Max(acquire_over_ms, static_cast<std::int64_t>(Ms(t1 - t0 - acquire_timeout_)));
      if (!lease) {
        ++acquire_failed;
        Note(lease.error().message.substr(0, 60));
        std::this_thread::sleep_for(5ms);
        continue;
      }
      auto r = lease->Query(sql_);
      const auto t2 = SteadyClock::now();
      Max(query_over_ms, static_cast<std::int64_t>(Ms(t2 - t1 - query_bound_)));
      if (r.ok()) {
        ++ok;
        last_ok_ = t2.time_since_epoch().count();
      } else {
        ++query_failed;
      }
    }
  }

  Pool& pool_;
  const Duration acquire_timeout_;
  const std::string sql_;
  const Duration query_bound_;
  std::atomic<bool> stop_{false};
  std::atomic<SteadyClock::rep> last_ok_{0};
  std::vector<std::thread> workers_;
  std::thread watcher_;
  std::thread stall_meter_;
};

// Start starts `server` (a fresh one: initdb for PostgreSQL); on failure it
// returns the fixture script's output for the test's message.
::testing::AssertionResult Start(ServerFixture& server, const std::string& kind) {
  std::string out;
  const int rc = ::poolscope::testing::Run(
      Env("POOLSCOPE_FIXTURES") + "/" + kind + ".sh start '" + server.dir() + "' 2>&1", &out);
  if (rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << kind << ".sh start failed (" << rc << "): " << out;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_FIXTURES");
    POOLSCOPE_REQUIRE_ENV("POOLSCOPE_TEST_TMP");
  }

  std::unique_ptr<Pool> MakePool(const PoolConfig& c) {
    auto p = Pool::Create(c, book_);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
    return p.ok() ? std::move(*p) : nullptr;
  }

  double Metric(const std::string& name, const prometheus::Labels& labels) {
    return Sample(*book_, name, labels);
  }

  // Settles waits until the pool is quiet and whole again: nobody waiting,
  // nothing leased, and `want` connections idle.
  static bool Settles(Pool& pool, int want, std::chrono::milliseconds within) {
    return Eventually(within, [&] {
      PoolState st = pool.State();
      return st.waiting == 0 && st.active == 0 && st.idle == want;
    });
  }

  std::shared_ptr<MetricsBook> book_ = std::make_shared<MetricsBook>();
};

TEST_F(FaultTest, KillRestartUnder32Threads) {
  ServerFixture pg("pg", "fault-kill");
  ASSERT_TRUE(Start(pg, "pg"));
  PoolConfig c;
  c.name = "kill";
  c.dsn = Dsn(pg.Query("dsn"));
  c.max_size = 8;
  c.min_idle = 8;
  c.connect_timeout = 1s;
  c.statement_timeout = 1s;
  c.cancel_grace = 200ms;
  c.validation_timeout = 300ms;
  auto pool = MakePool(c);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(Settles(*pool, 8, 10s));

  constexpr auto kAcquire = 500ms;
  Load load(*pool, 32, kAcquire, "SELECT pg_sleep(0.005)",
            c.statement_timeout + 2 * c.cancel_grace);
  ASSERT_TRUE(Eventually(5s, [&] { return load.ok.load() > 200; })) << "load never got going";
  ASSERT_TRUE(pg.Do("kill"));
  const auto killed = SteadyClock::now();
  // Down for a while: every caller gets an answer, none succeeds.
  std::this_thread::sleep_for(1500ms);
  const int ok_while_down = load.ok.load();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(load.ok.load(), ok_while_down) << "queries succeeded against a dead server";
  EXPECT_GT(load.acquire_failed.load() + load.query_failed.load(), 0);
  ASSERT_TRUE(Start(pg, "pg"));
  const auto back = SteadyClock::now();
  // Serves again within two connect timeouts of the server being back.
  const bool served =
      Eventually(4 * std::chrono::duration_cast<std::chrono::milliseconds>(c.connect_timeout),
                 [&] { return load.last_ok() > back; });
  const auto recovered = load.last_ok();
  load.Stop();
  ASSERT_TRUE(served) << "the pool never served again after the restart";
  EXPECT_LT(Ms(recovered - back), Ms(2 * c.connect_timeout) + load.Allowed())
      << "recovery took " << Ms(recovered - back) << " ms";
  EXPECT_EQ(load.over_max.load(), 0) << "the pool went past max_size";
  EXPECT_LE(load.acquire_over_ms.load(), load.Allowed())
      << "an acquire returned " << load.acquire_over_ms.load()
      << " ms past its deadline (longest machine stall " << load.stall_ms.load() << " ms)";
  EXPECT_LE(load.query_over_ms.load(), load.Allowed())
      << "a query returned " << load.query_over_ms.load() << " ms past its bound";
  // No slot lost: the pool settles back to its configured size, all usable.
  EXPECT_TRUE(Settles(*pool, 8, 10s))
      << "state after the restart: open " << pool->State().open << ", idle " << pool->State().idle
      << ", active " << pool->State().active;
  std::vector<Lease> all;
  for (int i = 0; i < 8; ++i) {
    auto l = pool->Acquire(2s);
    ASSERT_TRUE(l.ok()) << "slot " << i << ": " << l.error().message;
    ASSERT_TRUE(l->Query("SELECT 1").ok());
    all.push_back(std::move(*l));
  }
  EXPECT_EQ(pool->State().active, 8);
  all.clear();
  EXPECT_GE(Metric("poolscope_pool_connect_errors_total", {{"pool", "kill"}}), 1);
  EXPECT_GE(Metric("poolscope_pool_connections_closed_total", {{"pool", "kill"}}), 8)
      << "the 8 connections to the killed server were closed";
  const double opened = Metric("poolscope_pool_connections_opened_total", {{"pool", "kill"}});
  const double closed = Metric("poolscope_pool_connections_closed_total", {{"pool", "kill"}});
  EXPECT_EQ(opened - closed, 8) << "opened minus closed is what is open";
  RecordProperty("recovery_ms", static_cast<int>(Ms(recovered - back)));
  std::cerr << "kill: down " << Ms(back - killed) << " ms, recovered " << Ms(recovered - back)
            << " ms after the restart, " << load.ok.load() << " queries ok, "
            << load.acquire_failed.load() << " acquires and " << load.query_failed.load()
            << " queries failed, longest machine stall " << load.stall_ms.load() << " ms\n";
}

TEST_F(FaultTest, FrozenServerDeadlinesFire) {
  ServerFixture pg("pg", "fault-freeze");
  ASSERT_TRUE(Start(pg, "pg"));
  Relay relay(std::stoi(pg.Query("port")));  // counts the cancel requests
  ASSERT_GT(relay.port(), 0);
  PoolConfig c;
  c.name = "freeze";
  c.dsn = Dsn("host=127.0.0.1 port=" + std::to_string(relay.port()) +
              " dbname=postgres user=postgres sslmode=disable");
  c.max_size = 4;
  c.min_idle = 4;
  c.connect_timeout = 1s;
  c.statement_timeout = 500ms;
  c.cancel_grace = 200ms;
  auto pool = MakePool(c);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(Settles(*pool, 4, 10s));

  constexpr auto kAcquire = 800ms;
  // The client's bound on a query: statement_timeout + grace, cancel, + grace.
  const Duration bound = c.statement_timeout + 2 * c.cancel_grace;
  Load load(*pool, 8, kAcquire, "SELECT pg_sleep(0.05)", bound);
  ASSERT_TRUE(Eventually(5s, [&] { return load.ok.load() > 20; }));
  ASSERT_TRUE(pg.Do("freeze"));
  const auto frozen = SteadyClock::now();
  // Frozen for 2.5 s: queries past their deadline are cancelled and dropped.
  EXPECT_TRUE(Eventually(3s, [&] { return relay.cancels() >= 1; }))
      << "no cancel request reached the server";
  std::this_thread::sleep_for(2500ms - (SteadyClock::now() - frozen));
  const double timeouts =
      Metric("poolscope_query_errors_total", {{"pool", "freeze"}, {"sqlstate_class", "57"}});
  const double acquire_timeouts =
      Metric("poolscope_pool_acquires_total", {{"pool", "freeze"}, {"outcome", "timeout"}});
  ASSERT_TRUE(pg.Do("thaw"));
  const auto thawed = SteadyClock::now();
  const bool served = Eventually(5s, [&] { return load.last_ok() > thawed; });
  const auto recovered = load.last_ok();
  load.Stop();  // every worker thread returns: none is stuck
  EXPECT_TRUE(served) << "the pool never served again after SIGCONT";
  EXPECT_GE(timeouts, 1) << "no statement deadline fired while the server was frozen";
  EXPECT_GE(acquire_timeouts, 1) << "no acquire deadline fired while the server was frozen";
  EXPECT_GE(relay.cancels(), 1);
  EXPECT_EQ(load.over_max.load(), 0);
  EXPECT_LE(load.acquire_over_ms.load(), load.Allowed())
      << "an acquire returned " << load.acquire_over_ms.load()
      << " ms past its deadline (longest machine stall " << load.stall_ms.load() << " ms)";
  EXPECT_LE(load.query_over_ms.load(), load.Allowed())
      << "a query returned " << load.query_over_ms.load() << " ms past its bound";
  EXPECT_TRUE(Settles(*pool, 4, 10s));

  // A connection validated on acquire while the server is frozen: the
  // validation ping must not carry the acquire past its own deadline.
  PoolConfig v = c;
  v.name = "freeze_validate";
  v.max_size = 1;
  v.min_idle = 1;
  v.validate_after_idle = Duration::zero();  // ping on every acquire
  v.validation_timeout = 3s;
  auto validating = MakePool(v);
  ASSERT_NE(validating, nullptr);
  ASSERT_TRUE(Settles(*validating, 1, 10s));
  ASSERT_TRUE(pg.Do("freeze"));
  const auto t0 = SteadyClock::now();
  auto lease = validating->Acquire(300ms);
  const auto took = SteadyClock::now() - t0;
  ASSERT_TRUE(pg.Do("thaw"));
  EXPECT_FALSE(lease.ok()) << "a frozen server cannot validate a connection";
  EXPECT_LT(took, 300ms + kSlack) << "the acquire returned " << Ms(took)
                                  << " ms after it started: the validation ping overran it";
  std::cerr << "freeze: " << relay.cancels() << " cancel requests, " << timeouts
            << " statement timeouts, " << acquire_timeouts << " acquire timeouts, recovered "
            << Ms(recovered - thawed) << " ms after SIGCONT\n";
}

TEST_F(FaultTest, SilentNetworkIsDetected) {
  ServerFixture pg("pg", "fault-relay");
  ASSERT_TRUE(Start(pg, "pg"));
  RawConn observer(pg.Query("dsn"));
  ASSERT_TRUE(observer.ok());
  Relay relay(std::stoi(pg.Query("port")));
  ASSERT_GT(relay.port(), 0);
  PoolConfig c;
  c.name = "relay";
  c.dsn = Dsn("host=127.0.0.1 port=" + std::to_string(relay.port()) +
              " dbname=postgres user=postgres sslmode=disable");
  c.application_name = "fault-relay";
  c.max_size = 4;
  c.min_idle = 4;
  c.connect_timeout = 1s;
  c.keepalive_interval = 300ms;  // idle connections are pinged this often
  c.validation_timeout = 300ms;
  c.statement_timeout = 500ms;
  c.cancel_grace = 200ms;
  auto pool = MakePool(c);
  ASSERT_NE(pool, nullptr);
  ASSERT_TRUE(Settles(*pool, 4, 10s));
  std::vector<int> old_pids;
  {
    std::vector<Lease> all;
    for (int i = 0; i < 4; ++i) {
      auto l = pool->Acquire(2s);
      ASSERT_TRUE(l.ok()) << l.error().message;
      old_pids.push_back(l->BackendPid());
      all.push_back(std::move(*l));
    }
  }
  const Duration bound = c.statement_timeout + 2 * c.cancel_grace;
  constexpr auto kAcquire = 700ms;
  Load load(*pool, 2, kAcquire, "SELECT 1", bound);
  ASSERT_TRUE(Eventually(5s, [&] { return load.ok.load() > 20; }));
  const prometheus::Labels broken{{"pool", "relay"}, {"reason", "broken"}};
  const prometheus::Labels invalid{{"pool", "relay"}, {"reason", "validation_failed"}};
  const double closed_before = Metric("poolscope_pool_connections_closed_total", broken) +
                               Metric("poolscope_pool_connections_closed_total", invalid);
  relay.Blackhole(true);
  const auto cut = SteadyClock::now();
  // Every connection on the silent path is found dead and dropped: idle ones
  // by the keepalive ping, in-use ones by the statement deadline.
  const bool detected = Eventually(5s, [&] {
    return Metric("poolscope_pool_connections_closed_total", broken) +
               Metric("poolscope_pool_connections_closed_total", invalid) - closed_before >=
           4;
  });
  const auto detected_at = SteadyClock::now();
  EXPECT_TRUE(detected) << "connections on the silent path were not all dropped";
  std::this_thread::sleep_for(500ms);
  relay.Blackhole(false);
  const auto healed = SteadyClock::now();
  const bool served = Eventually(5s, [&] { return load.last_ok() > healed; });
  load.Stop();
  EXPECT_TRUE(served) << "the pool never served again once the path was back";
  EXPECT_EQ(load.over_max.load(), 0);
  EXPECT_LE(load.acquire_over_ms.load(), load.Allowed())
      << "an acquire returned " << load.acquire_over_ms.load()
      << " ms past its deadline (longest machine stall " << load.stall_ms.load() << " ms)";
  EXPECT_LE(load.query_over_ms.load(), load.Allowed())
      << "a query returned " << load.query_over_ms.load() << " ms past its bound";
  ASSERT_TRUE(Settles(*pool, 4, 10s));
  // Replaced: the pool's backends now are all new ones.
  std::vector<Lease> all;
  for (int i = 0; i < 4; ++i) {
    auto l = pool->Acquire(2s);
    ASSERT_TRUE(l.ok()) << l.error().message;
    EXPECT_THAT(old_pids, ::testing::Not(::testing::Contains(l->BackendPid())));
    all.push_back(std::move(*l));
  }
  all.clear();
  // The server lets the old backends go once the path carries the close.
  EXPECT_TRUE(
      Eventually(5s,
                 [&] {
                   return observer.Scalar(
                              "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                              "'fault-relay'") == "4";
                 }))
      << "server still has "
      << observer.Scalar(
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fault-relay'");
  std::cerr << "relay: all 4 connections dropped " << Ms(detected_at - cut)
            << " ms after the path went silent\n";
}

// Connection attempts the server saw (log_connections) since `from` bytes.
int ConnectionsLogged(const std::string& log, std::size_t from) {
  std::ifstream in(log);
  std::stringstream s;
  s << in.rdbuf();
  const std::string text = s.str();
  int n = 0;
  for (auto p = text.find("connection received", from); p != std::string::npos;
       p = text.find("connection received", p + 1)) {
    ++n;
  }
  return n;
}

std::size_t FileSize(const std::string& path) {
  std::ifstream in(path, std::ios::ate | std::ios::binary);
  return in ? static_cast<std::size_t>(in.tellg()) : 0;
}

TEST_F(FaultTest, MaxConnectionsReachedBacksOff) {
  ServerFixture pg("pg", "fault-maxconn");
  ASSERT_TRUE(Start(pg, "pg"));
  const std::string dsn = pg.Query("dsn");
  {
    RawConn admin(dsn);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE(admin.Exec("ALTER SYSTEM SET max_connections = 8"));
    ASSERT_TRUE(admin.Exec("ALTER SYSTEM SET superuser_reserved_connections = 0"));
    ASSERT_TRUE(admin.Exec("ALTER SYSTEM SET max_wal_senders = 0"));
    ASSERT_TRUE(admin.Exec("ALTER SYSTEM SET log_connections = on"));
  }
  ASSERT_TRUE(pg.Do("stop"));
  ASSERT_TRUE(Start(pg, "pg"));
  // Others take every slot.
  std::vector<std::unique_ptr<RawConn>> others;
  for (int i = 0; i < 8; ++i) {
    others.push_back(std::make_unique<RawConn>(dsn));
    ASSERT_TRUE(others.back()->ok()) << i << ": " << PQerrorMessage(others.back()->pg);
  }
  ASSERT_EQ(others[0]->Scalar("SHOW max_connections"), "8");
  {
    RawConn extra(dsn);
    ASSERT_FALSE(extra.ok()) << "the server should be full";
  }
  PoolConfig c;
  c.name = "maxconn";
  c.dsn = Dsn(dsn);
  c.max_size = 4;
  c.min_idle = 2;
  c.connect_timeout = 1s;
  auto pool = MakePool(c);
  ASSERT_NE(pool, nullptr);
  const std::string log = pg.dir() + "/pg.log";
  const std::size_t mark = FileSize(log);
  constexpr auto kAcquire = 200ms;
  Load load(*pool, 16, kAcquire, "SELECT 1", 1s);
  constexpr auto kWindow = 3s;
  std::this_thread::sleep_for(kWindow);
  const int attempts = ConnectionsLogged(log, mark);
  const double errors = Metric("poolscope_pool_connect_errors_total", {{"pool", "maxconn"}});
  const int answered = load.acquire_failed.load() + load.ok.load();
  EXPECT_EQ(load.ok.load(), 0);
  EXPECT_GT(answered, 16) << "callers must get answers, not hang";
  EXPECT_GE(errors, 1) << "failed connection attempts are counted";
  EXPECT_GE(
      Metric("poolscope_pool_acquires_total", {{"pool", "maxconn"}, {"outcome", "error"}}) +
          Metric("poolscope_pool_acquires_total", {{"pool", "maxconn"}, {"outcome", "timeout"}}),
      1);
  // 16 callers retrying for 3 s: without backoff that is hundreds of
  // connection attempts; with it, a handful.
  EXPECT_LE(attempts, 30) << attempts << " connection attempts in 3 s while " << answered
                          << " acquires were answered: a connect storm";
  // The slots come free: the pool connects and serves.
  others.clear();
  const auto freed = SteadyClock::now();
  const bool served = Eventually(8s, [&] { return load.last_ok() > freed; });
  const auto recovered = load.last_ok();
  load.Stop();
  EXPECT_TRUE(served) << "the pool never connected once slots were free";
  EXPECT_EQ(load.over_max.load(), 0);
  EXPECT_LE(load.acquire_over_ms.load(), load.Allowed());
  std::cerr << "max_connections: " << attempts << " connection attempts in 3 s (" << errors
            << " counted errors, " << answered << " acquires answered), served "
            << Ms(recovered - freed) << " ms after slots were freed\n";
}

RedisL2Options RedisAt(const std::string& addr) {
  auto hp = ParseHostPort(addr);
  RedisL2Options o;
  o.host = hp->host;
  o.port = hp->port;
  return o;
}

TEST_F(FaultTest, RedisKilledFailsOpenResumesL2) {
  ServerFixture redis("redis", "fault-redis");
  ASSERT_TRUE(Start(redis, "redis"));
  const std::string addr = redis.Query("addr");
  RedisL2Options ro = RedisAt(addr);
  ro.breaker_cooldown = 300ms;
  CacheConfig cc;
  cc.name = "fault";
  cc.l1_ttl = 100ms;  // short, so reads keep reaching L2
  cc.jitter = 0;
  ByteCache a(cc, std::make_shared<RedisL2>(ro), book_);
  CacheConfig cb = cc;
  cb.l1_ttl = 1min;  // the second instance keeps its L1 copy until told otherwise
  ByteCache b(cb, std::make_shared<RedisL2>(ro), book_);
  auto value = [](const std::string& k) { return "value of " + k; };
  std::atomic<int> loads{0};
  ByteCache::Loader loader = [&](const std::string& k) -> Result<std::optional<std::string>> {
    ++loads;
    return std::optional<std::string>(value(k));
  };
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0}, wrong{0};
  std::atomic<std::int64_t> slowest_ms{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        const std::string k = std::to_string((i * 7 + t) % 50);
        const auto t0 = SteadyClock::now();
        auto r = a.Get(k, loader);
        const auto took = static_cast<std::int64_t>(Ms(SteadyClock::now() - t0));
        if (took > slowest_ms) slowest_ms = took;
        (r.ok() && r->has_value() && **r == value(k)) ? ++answered : ++wrong;
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  const prometheus::Labels l2_hit{{"cache", "fault"}, {"level", "l2"}, {"result", "hit"}};
  ASSERT_TRUE(
      Eventually(5s, [&] { return Metric("poolscope_cache_requests_total", l2_hit) > 20; }));
  ASSERT_TRUE(redis.Do("kill"));
  const double errors_at_kill = Metric("poolscope_cache_l2_errors_total", {{"cache", "fault"}});
  std::this_thread::sleep_for(1500ms);
  const double errors_down =
      Metric("poolscope_cache_l2_errors_total", {{"cache", "fault"}}) - errors_at_kill;
  const int answered_down = answered.load();
  ASSERT_TRUE(Start(redis, "redis"));
  const double hits_back = Metric("poolscope_cache_requests_total", l2_hit);
  const bool resumed = Eventually(
      5s, [&] { return Metric("poolscope_cache_requests_total", l2_hit) > hits_back + 20; });
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_TRUE(resumed) << "L2 never resumed after Redis came back";
  EXPECT_EQ(wrong.load(), 0) << "every read answers the right value while Redis is down";
  EXPECT_GT(answered_down, 100);
  EXPECT_GT(errors_down, 0) << "L2 errors are counted";
  EXPECT_LT(slowest_ms.load(), Ms(ro.connect_timeout + ro.op_timeout + kSlack))
      << "a read waited on the dead Redis";
  // The restarted (empty) Redis is filled again through the cache.
  auto hp = *ParseHostPort(addr);
  std::string keys;
  ::poolscope::testing::Run(
      "redis-cli -h " + hp.host + " -p " + std::to_string(hp.port) + " DBSIZE", &keys);
  EXPECT_GT(std::stoi(keys.empty() ? "0" : keys), 10) << "L2 is written again";
  // The invalidation channel is back too: b's L1 copy goes when a writes.
  ASSERT_TRUE(b.Get("7", loader).ok());
  ASSERT_EQ(b.l1().Get("7").result, L1Result::kHit);
  EXPECT_TRUE(Eventually(5s, [&] {
    if (!a.Put("7", "renamed").ok()) return false;
    return b.l1().Get("7").result == L1Result::kMiss;
  })) << "the invalidation subscription did not come back";
  std::cerr << "redis: " << errors_down << " L2 errors while down, " << answered_down
            << " reads answered, slowest read " << slowest_ms.load() << " ms\n";
}

TEST_F(FaultTest, PgBouncerKilledSamplerRecovers) {
  ServerFixture pg("pg", "fault-bouncer-pg");
  ASSERT_TRUE(Start(pg, "pg"));
  ServerFixture bouncer("pgbouncer", "fault-bouncer");
  ASSERT_EQ(::poolscope::testing::Run(Env("POOLSCOPE_FIXTURES") + "/pgbouncer.sh start '" +
                                      bouncer.dir() + "' " + pg.Query("port") + " >/dev/null 2>&1"),
            0);
  const std::string admin =
      "host=127.0.0.1 port=" + bouncer.Query("port") + " dbname=pgbouncer user=postgres";
  PgBouncerProbe probe(Dsn(admin), PgBouncerViewOptions{.target = "bouncer"});
  auto check = [&] {
    const auto t0 = SteadyClock::now();
    Status s = probe.Check(Clock::now() + 1s, {});
    EXPECT_LT(SteadyClock::now() - t0, 1s + kSlack) << "a check overran its deadline";
    return s.ok();
  };
  ASSERT_TRUE(check()) << "the sampler cannot reach the fresh PgBouncer";
  ASSERT_TRUE(bouncer.Do("kill"));
  EXPECT_FALSE(check()) << "a check against a killed PgBouncer must fail";
  EXPECT_FALSE(check());
  ASSERT_TRUE(bouncer.Do("start"));
  const auto back = SteadyClock::now();
  EXPECT_TRUE(Eventually(3s, check)) << "the sampler never reconnected";
  std::cerr << "pgbouncer: sampler answering again " << Ms(SteadyClock::now() - back)
            << " ms after the restart\n";
}

}  // namespace
}  // namespace poolscope
