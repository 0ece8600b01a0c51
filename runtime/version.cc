// version.cc — the library's own version string.
#include "ringo/version.h"

#define RINGO_STR2(x) #x
#define RINGO_STR(x) RINGO_STR2(x)

namespace ringo {

const char* Version() {
  return RINGO_STR(RINGO_VERSION_MAJOR) "." RINGO_STR(RINGO_VERSION_MINOR) "." RINGO_STR(RINGO_VERSION_PATCH);
}

}  // namespace ringo
