// one_p.cc — linked into the suites that pin one-P orders (runnext, Gosched,
// the seeds' output): every Run in them, death-test children included, gets
// one P unless RINGO_MAXPROCS is already set.
#include <cstdlib>

namespace {
[[maybe_unused]] const int kOneP = setenv("RINGO_MAXPROCS", "1", /*overwrite=*/0);
}
