// Test support: loopback ports.
#pragma once

namespace smartcity::test {

// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel picked it for a socket
// that was closed at once). Nothing keeps it free: use it where "nobody answers" is the point, or
// accept a rare clash.
int UnusedLoopbackPort();

}  // namespace smartcity::test
