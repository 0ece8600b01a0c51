// version.h — which ringo this is.
//
//   std::printf("ringo %s\n", ringo::Version());   // "ringo 0.1.0"
#pragma once

#define RINGO_VERSION_MAJOR 0
#define RINGO_VERSION_MINOR 1
#define RINGO_VERSION_PATCH 0

namespace ringo {

// Version returns the library's version as "MAJOR.MINOR.PATCH": the one it
// was built as, which may differ from the headers a program compiled with.
const char* Version();

}  // namespace ringo
