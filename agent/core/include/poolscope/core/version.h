// Build identity: the version and the source revision this binary came from.
#pragma once

namespace poolscope {

// Version returns the release version ("0.1.0").
const char* Version();

// Revision returns the short git revision, or "unknown" outside a checkout.
const char* Revision();

}  // namespace poolscope
