// fallback_test.cc — the poller's choice: io_uring where it can be set up,
// epoll where a seccomp filter refuses io_uring_setup (EPERM, as Docker's
// default profile does, or ENOSYS, as an old kernel would), and the
// RINGO_POLLER override. Each case runs in a child process, which installs
// the filter on itself.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <ringo/ringo.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace net = ringo::net;

namespace {

// RefuseIoUring makes io_uring_setup fail with err in this process.
void RefuseIoUring(int err) {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (uint32_t(err) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    std::fprintf(stderr, "seccomp: %s\n", std::strerror(errno));
    std::_Exit(3);
  }
}

// EchoOnce serves one echo over the chosen poller and exits 0 if it worked
// on the expected backend.
void EchoOnce(const char* want) {
  int rc = ringo::Run([want] {
    auto [ln, err] = net::Listen("tcp", "127.0.0.1:0");
    if (err) return 10;
    ringo::WaitGroup wg;
    wg.Add(1);
    // ln by reference: a copy in the closure would be dropped after Done,
    // and if it were the last handle its Close could still be parked when
    // Run ends (a goroutine alive then is dropped, and its Listener leaks).
    ringo::Go([&ln, &wg] {
      RINGO_DEFER(wg.Done());
      auto [c, err] = ln.Accept();
      if (err) return;
      char b[8];
      auto r = c.Read(b);
      (void)c.Write({b, r.n});
    });
    auto [c, derr] = net::Dial("tcp", ln.Address().String());
    if (derr || c.Write("ping").err) return 11;
    char b[8];
    size_t got = 0;
    while (got < 4) {
      auto r = c.Read({b + got, 4 - got});
      if (r.err) return 12;
      got += r.n;
    }
    if (std::string_view(b, 4) != "ping") return 13;
    wg.Wait();
    return std::strcmp(ringo::netpoll::ReadStats().backend, want) == 0 ? 0 : 14;
  });
  std::exit(rc);
}

class Fallback : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Fallback, EpermFromSeccompChoosesEpoll) {
  EXPECT_EXIT(
      {
        unsetenv("RINGO_POLLER");
        RefuseIoUring(EPERM);
        EchoOnce("epoll");
      },
      ::testing::ExitedWithCode(0), "ringo: netpoll: epoll \\(io_uring unavailable: Operation not permitted\\)");
}

TEST_F(Fallback, EnosysChoosesEpoll) {
  EXPECT_EXIT(
      {
        unsetenv("RINGO_POLLER");
        RefuseIoUring(ENOSYS);
        EchoOnce("epoll");
      },
      ::testing::ExitedWithCode(0), "ringo: netpoll: epoll \\(io_uring unavailable: Function not implemented\\)");
}

TEST_F(Fallback, AskingForUringWhereItCannotBeIsAClearError) {
  EXPECT_EXIT(
      {
        setenv("RINGO_POLLER", "uring", 1);
        RefuseIoUring(EPERM);
        EchoOnce("io_uring");
      },
      ::testing::ExitedWithCode(2), "RINGO_POLLER=uring, but io_uring cannot be set up: Operation not permitted");
}

TEST_F(Fallback, AskingForEpollGetsEpoll) {
  EXPECT_EXIT(
      {
        setenv("RINGO_POLLER", "epoll", 1);
        EchoOnce("epoll");
      },
      ::testing::ExitedWithCode(0), "ringo: netpoll: epoll \\(RINGO_POLLER\\)");
}

TEST_F(Fallback, UnknownPollerNameIsAClearError) {
  EXPECT_EXIT(
      {
        setenv("RINGO_POLLER", "kqueue", 1);
        EchoOnce("epoll");
      },
      ::testing::ExitedWithCode(2), "RINGO_POLLER=kqueue: want uring or epoll");
}

TEST_F(Fallback, BadPollSpinIsAClearError) {
  for (const char* bad : {"fast", "-1", "10001", "20us"}) {
    EXPECT_EXIT(
        {
          setenv("RINGO_POLLSPIN", bad, 1);
          EchoOnce("io_uring");
        },
        ::testing::ExitedWithCode(2), "RINGO_POLLSPIN=.*: want microseconds, 0 to 10000")
        << bad;
  }
}

TEST_F(Fallback, TheChoiceIsLoggedOnce) {
  EXPECT_EXIT(
      {
        unsetenv("RINGO_POLLER");
        // sysmon's reports would share stderr: under TSan its own waits can
        // look like a goroutine blocked in the kernel.
        setenv("RINGO_SCHEDWARN", "0", 1);
        ringo::Run([] {});
        EchoOnce(ringo::netpoll::ReadStats().backend);  // a second Run: no second line
      },
      ::testing::ExitedWithCode(0), "^ringo: netpoll: [a-z_]+[^\n]*\n$");
}

}  // namespace
