// offcpu_test_child: a process that waits off CPU in known ways, for the
// off-CPU probe's tests (tests/bpf/offcpu_bpf_test.cc). Built with frame
// pointers and without inlining, so its user stacks unwind and name its
// functions.
//
//   offcpu_test_child MODE ARGS...
//     sleep N MS [NAME]     thread NAME (default "sleeper-42") naps N times for MS ms
//     lock ROUNDS HOLD_MS   thread "holder" holds a mutex HOLD_MS ms while "waiter" blocks on it
//     net ROUNDS DELAY_MS   threads "recv-1" (recv) and "read-2" (read) block on TCP sockets
//                           that "sender" writes to every DELAY_MS ms
//     fork N MS             forks a child (no exec) whose thread "forked" naps N times
//     forkexec N MS         forks a child that execs /bin/sleep for N * MS ms
//
// Protocol: prints "ready" once running, waits for one byte on stdin, runs
// the workload, prints "done", then waits for stdin to close and exits 0.
// The sleeps are made with the nanosleep system call issued right here, so
// the innermost user frame is offcpu_child_nap and the next one
// offcpu_child_sleep_loop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <thread>

namespace {

void SetThreadName(const char* name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

void Say(const char* word) {
  std::printf("%s\n", word);
  std::fflush(stdout);
}

}  // namespace

extern "C" {

// offcpu_child_nap sleeps `ms` milliseconds with the nanosleep system call.
__attribute__((noinline)) void offcpu_child_nap(long ms) {
  struct timespec ts {
    ms / 1000, (ms % 1000) * 1000000L
  };
#if defined(__x86_64__)
  long ret;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(static_cast<long>(SYS_nanosleep)), "D"(&ts), "S"(0L)
               : "rcx", "r11", "memory");
  (void)ret;
#else
  syscall(SYS_nanosleep, &ts, nullptr);
#endif
  asm volatile("" ::: "memory");
}

// offcpu_child_sleep_loop naps `n` times.
__attribute__((noinline)) void offcpu_child_sleep_loop(int n, long ms) {
  for (int i = 0; i < n; ++i) offcpu_child_nap(ms);
  asm volatile("" ::: "memory");
}

}  // extern "C"

namespace {

int Lock(int rounds, long hold_ms) {
  std::mutex m;
  int locked[2];
  int released[2];
  if (pipe(locked) != 0 || pipe(released) != 0) return 1;
  std::thread holder([&] {
    SetThreadName("holder");
    char c = 'x';
    for (int r = 0; r < rounds; ++r) {
      m.lock();
      if (write(locked[1], &c, 1) != 1) std::abort();
      offcpu_child_nap(hold_ms);
      m.unlock();
      if (read(released[0], &c, 1) != 1) std::abort();
    }
  });
  std::thread waiter([&] {
    SetThreadName("waiter");
    char c = 'x';
    for (int r = 0; r < rounds; ++r) {
      if (read(locked[0], &c, 1) != 1) std::abort();
      m.lock();  // blocks in futex until the holder's nap ends
      m.unlock();
      if (write(released[1], &c, 1) != 1) std::abort();
    }
  });
  holder.join();
  waiter.join();
  return 0;
}

int Net(int rounds, long delay_ms) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 4) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 1;
  }
  int client[2];
  int server[2];
  for (int i = 0; i < 2; ++i) {
    client[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client[i], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 1;
    server[i] = accept(listener, nullptr, nullptr);
    if (server[i] < 0) return 1;
  }
  std::thread recv_thread([&] {
    SetThreadName("recv-1");
    char c;
    for (int r = 0; r < rounds; ++r) {
      if (recv(client[0], &c, 1, 0) != 1) std::abort();
    }
  });
  std::thread read_thread([&] {
    SetThreadName("read-2");
    char c;
    for (int r = 0; r < rounds; ++r) {
      if (read(client[1], &c, 1) != 1) std::abort();
    }
  });
  std::thread sender([&] {
    SetThreadName("sender");
    char c = 'x';
    for (int r = 0; r < rounds; ++r) {
      offcpu_child_nap(delay_ms);
      if (write(server[0], &c, 1) != 1) std::abort();
      offcpu_child_nap(delay_ms);
      if (write(server[1], &c, 1) != 1) std::abort();
    }
  });
  sender.join();
  recv_thread.join();
  read_thread.join();
  return 0;
}

int Fork(int n, long ms) {
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    SetThreadName("forked");
    offcpu_child_sleep_loop(n, ms);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

int ForkExec(int n, long ms) {
  const std::string seconds = std::to_string(static_cast<double>(n * ms) / 1000.0);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    execl("/bin/sleep", "sleep", seconds.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s sleep|lock|net|fork|forkexec N MS [NAME]\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int n = std::atoi(argv[2]);
  const long ms = std::atol(argv[3]);
  Say("ready");
  char go;
  if (read(0, &go, 1) != 1) return 1;

  int rc = 2;
  if (mode == "sleep") {
    std::thread t([&] {
      SetThreadName(argc > 4 ? argv[4] : "sleeper-42");
      offcpu_child_sleep_loop(n, ms);
    });
    t.join();
    rc = 0;
  } else if (mode == "lock") {
    rc = Lock(n, ms);
  } else if (mode == "net") {
    rc = Net(n, ms);
  } else if (mode == "fork") {
    rc = Fork(n, ms);
  } else if (mode == "forkexec") {
    rc = ForkExec(n, ms);
  }
  if (rc != 0) return rc;
  Say("done");
  while (read(0, &go, 1) > 0) {
  }
  return 0;
}
