#include "poolscope/core/version.h"

namespace poolscope {

const char* Version() { return POOLSCOPE_VERSION; }
const char* Revision() { return POOLSCOPE_REVISION; }

}  // namespace poolscope
