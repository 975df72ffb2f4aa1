#include "spatialembed/version.hpp"

namespace spatialembed {

const char* version() { return SPATIALEMBED_VERSION_STRING; }

}  // namespace spatialembed
